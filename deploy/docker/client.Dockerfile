# The command-line client, e.g. as an in-cluster Job: `distributed submit spec.yaml --wait --cluster distributed-gateway:30000`.
#   docker build -f deploy/docker/client.Dockerfile -t distributed-client .
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/Client/Distributed.Client.csproj -c Release -o /app

# ASP.NET Core: the web dashboard.
FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /work
COPY --from=build /app /app
COPY samples /work/samples
USER 10001:10001
ENTRYPOINT ["dotnet", "/app/distributed.dll"]
