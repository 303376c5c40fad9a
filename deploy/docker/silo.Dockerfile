# The silo image. Build from the repository root:
#   docker build -f deploy/docker/silo.Dockerfile -t distributed-silo .
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
# The publish output carries libtorch and the TorchSharp load fix (build/TorchSharpLoadFix.targets runs on publish).
RUN dotnet publish src/Silo/Distributed.Silo.csproj -c Release -o /app

# ASP.NET Core: the web dashboard.
FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
# Same numeric user as the Deployment's securityContext: never root.
USER 10001:10001
EXPOSE 11111 30000 11112 8080
ENTRYPOINT ["dotnet", "Distributed.Silo.dll"]
