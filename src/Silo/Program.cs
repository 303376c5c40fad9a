// The silo host arrives with issue 3 (data-parallel training on Orleans).
Console.Error.WriteLine("The Orleans silo host is not built yet (issue 3). Use `dotnet run --project src/Client -- train` to train locally.");
return 2;
