using System.Text;
using Distributed.Grains.Abstractions;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Options;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Distributed.Dashboard;

/// <summary>
/// The dashboard's routes: the page (script and style served from this assembly, no CDN), the sweeps, one sweep's
/// live snapshot as server-sent events, a trial's attention on an input, and cancel (operators only). Every request
/// passes <see cref="IDashboardAccess"/> first; grain calls are bounded here as the grains bound them again.
/// </summary>
public static class DashboardEndpoints
{
    /// <summary>How often a watched sweep is looked at; the page changes only when the sweep does.</summary>
    public static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);
    /// <summary>A comment line this often keeps a quiet stream open through proxies.</summary>
    static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);
    /// <summary>Sweeps the list shows, newest first; the client's `list` shows them all.</summary>
    public const int MaxListed = 200;
    /// <summary>The header a cancel must carry: a form or a page of another site cannot set it without the browser asking first.</summary>
    public const string ActionHeader = "X-Distributed-Action";
    const int MaxBeamWidth = 16;

    public static void UseDashboardAccess(this IApplicationBuilder app, IDashboardAccess access) => app.Use(async (context, next) =>
    {
        if (access.Caller(context) is not { } caller)
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            await context.Response.WriteAsync("this dashboard needs the link `distributed dashboard` printed, or a client certificate of the cluster's CA");
            return;
        }
        context.Items[nameof(Caller)] = caller;
        context.Response.Headers.XContentTypeOptions = "nosniff";
        await next(context);
    });

    public static void MapDashboard(this IEndpointRouteBuilder endpoints, IGrainFactory grains)
    {
        var routes = endpoints.MapGroup("").AddEndpointFilter(async (context, next) =>
        {
            // The page builds every element from text, never from markup; this forbids any script but its own regardless.
            context.HttpContext.Response.Headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'";
            return await next(context);
        });
        routes.MapGet("/", () => Page("index.html", "text/html; charset=utf-8"));
        routes.MapGet("/dashboard.js", () => Page("dashboard.js", "text/javascript; charset=utf-8"));
        routes.MapGet("/dashboard.css", () => Page("dashboard.css", "text/css; charset=utf-8"));
        routes.MapGet("/api/me", (HttpContext context) => Results.Json(CallerOf(context), SweepSnapshot.Json));
        routes.MapGet("/api/sweeps", async () =>
        {
            var ids = await grains.GetGrain<ISweepIndexGrain>(0).ListAsync();
            // The index keeps submission order: only the newest are asked for their status.
            var statuses = await Task.WhenAll(ids.TakeLast(MaxListed).Select(id => grains.GetGrain<ISweepGrain>(id).GetStatusAsync()));
            var listed = statuses.OfType<SweepStatus>().OrderByDescending(s => s.CreatedAt).Select(SweepSummary.Of).ToList();
            return Results.Json(new { Sweeps = listed, Total = ids.Count }, SweepSnapshot.Json);
        });
        routes.MapGet("/api/sweeps/{id}", async (string id) =>
            Known(id) is { } bad ? bad : await new SweepFeed(grains, id).NextAsync() is { } snapshot
                ? Results.Content(snapshot.ToJson(), "application/json") : Unknown(id));
        routes.MapGet("/api/sweeps/{id}/events", async (string id, HttpContext context) => Known(id) ?? await StreamAsync(grains, id, context));
        routes.MapPost("/api/sweeps/{id}/cancel", async (string id, HttpContext context) =>
        {
            if (Known(id) is { } bad) return bad;
            var caller = CallerOf(context);
            if (!caller.MayAct) return Results.Json(new { Error = $"{caller.Subject} holds the reader role; cancel needs operator" }, statusCode: StatusCodes.Status403Forbidden);
            if (context.Request.Headers[ActionHeader] != "cancel") return Results.BadRequest(new { Error = $"a cancel carries the header {ActionHeader}: cancel" });
            var status = await grains.GetGrain<ISweepGrain>(id).CancelAsync();
            return status is null ? Unknown(id) : Results.Json(SweepSummary.Of(status), SweepSnapshot.Json);
        });
        routes.MapGet("/api/sweeps/{id}/trials/{number:int}/attention", async (string id, int number, string? input, int? beam) =>
        {
            if (Known(id) is { } bad) return bad;
            if (string.IsNullOrWhiteSpace(input) || input.Length > OptionLimits.MaxStringLength)
                return Results.BadRequest(new { Error = $"input: give 1 to {OptionLimits.MaxStringLength} characters" });
            if (beam is { } b && (b < 1 || b > MaxBeamWidth)) return Results.BadRequest(new { Error = $"beam: {b} is not a width from 1 to {MaxBeamWidth}" });
            var status = await grains.GetGrain<ISweepGrain>(id).GetStatusAsync();
            if (status is null) return Unknown(id);
            if (status.Trials.FirstOrDefault(t => t.Number == number) is not { } trial)
                return Results.NotFound(new { Error = $"trial: sweep {id} has trials 1..{status.Trials.Count}" });
            try
            {
                var prediction = await grains.GetGrain<ITrialGrain>(trial.TrialId).PredictAsync(input, beam ?? 1);
                return Results.Json(prediction, SweepSnapshot.Json);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                return Results.BadRequest(new { Error = e.Message });
            }
        });
    }

    public static Caller CallerOf(HttpContext context) => (Caller)context.Items[nameof(Caller)]!;

    /// <summary>Null for an id that can name a sweep; a 400 for one that cannot.</summary>
    static IResult? Known(string id) =>
        id.Length is > 0 and <= SweepLimits.MaxNameLength && id.All(c => !char.IsControl(c)) ? null : Results.BadRequest(new { Error = $"sweep id: 1 to {SweepLimits.MaxNameLength} printable characters" });

    static IResult Unknown(string id) => Results.NotFound(new { Error = $"no sweep '{id}'" });

    /// <summary>The sweep's snapshot each time it changes, until it ends or the viewer leaves.</summary>
    static async Task<IResult> StreamAsync(IGrainFactory grains, string id, HttpContext context)
    {
        var feed = new SweepFeed(grains, id);
        var first = await feed.NextAsync();
        if (first is null) return Unknown(id);
        var response = context.Response;
        response.Headers.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        var stopping = context.RequestAborted;
        string? sent = null;
        var quietSince = DateTime.UtcNow;
        try
        {
            for (var snapshot = first; snapshot is not null; snapshot = await feed.NextAsync())
            {
                var json = snapshot.ToJson();
                if (json != sent)
                {
                    await response.WriteAsync($"data: {json}\n\n", stopping);
                    sent = json;
                    quietSince = DateTime.UtcNow;
                }
                else if (DateTime.UtcNow - quietSince > KeepAlive)
                {
                    await response.WriteAsync(": still here\n\n", stopping);
                    quietSince = DateTime.UtcNow;
                }
                await response.Body.FlushAsync(stopping);
                // Told apart from a dropped connection, which the browser's EventSource would reopen.
                if (snapshot.IsFinished)
                {
                    await response.WriteAsync("event: end\ndata: {}\n\n", stopping);
                    break;
                }
                await Task.Delay(Tick, stopping);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // The viewer left.
        }
        return Results.Empty;
    }

    static readonly Dictionary<string, string> Pages = typeof(DashboardEndpoints).Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith("Page/", StringComparison.Ordinal))
        .ToDictionary(n => n["Page/".Length..], n =>
        {
            using var reader = new StreamReader(typeof(DashboardEndpoints).Assembly.GetManifestResourceStream(n)!, Encoding.UTF8);
            return reader.ReadToEnd();
        });

    static IResult Page(string name, string type) => Results.Text(Pages[name], type);
}
