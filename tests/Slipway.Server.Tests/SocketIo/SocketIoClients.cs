using System.Text.Json;
using System.Text.Json.Nodes;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.SocketIo;

/// <summary>The npm <c>socket.io-client</c> under Node, driven by a JSON plan; every event comes back as one JSON line.</summary>
internal static class SocketIoClients
{
    /// <summary>
    /// Connects with <c>auth: { token }</c> over the given transports, optionally emits events with acks (printing them)
    /// and prints <c>log</c>, <c>status</c>, <c>gap</c>, <c>end</c> events until <c>end</c>, <c>stopAfterLogs</c> lines,
    /// a refused ack, or a <c>connect_error</c>; the last line says which transport it ended on.
    /// </summary>
    private const string Script = """
        import { io } from 'socket.io-client';
        const plan = JSON.parse(process.argv[2]);
        let finished = false;
        const out = (o) => { if (!finished) process.stdout.write(JSON.stringify(o) + '\n'); };
        const opts = { auth: plan.token === null ? undefined : { token: plan.token }, reconnection: false, timeout: 20000 };
        if (plan.transports) opts.transports = plan.transports;
        const socket = io(plan.url + (plan.namespace ?? ''), opts);
        let logs = 0;
        const finish = (why) => {
          if (finished) return;
          out({ event: 'done', why, transport: socket.io.engine ? socket.io.engine.transport.name : null });
          finished = true;
          socket.close();
          process.exit(0);
        };
        socket.io.on('open', () => socket.io.engine.on('upgrade', (t) => out({ event: 'upgrade', transport: t.name })));
        socket.on('connect_error', (err) => { out({ event: 'connect_error', message: err.message, data: err.data ?? null }); finish('connect_error'); });
        socket.on('disconnect', (reason) => { out({ event: 'disconnect', reason }); finish('disconnect'); });
        // The ack is printed in its callback, not after an await: the client decodes an ack and the log events that
        // follow it in one batch (one polling payload, one TCP read) synchronously, so an await's continuation would run
        // only after those events, and 'stopAfterLogs' could end the process before the ack is printed.
        const emitWithAck = (name, arg) => new Promise((resolve) => socket.timeout(20000).emit(name, arg, (err, ack) => {
          const data = err ? { error: { code: 'ack_timeout', message: String(err.message ?? err) } } : ack;
          out({ event: 'ack', name, data });
          resolve(data);
        }));
        socket.on('connect', async () => {
          out({ event: 'connect', id: socket.id });
          for (const [name, arg] of plan.steps ?? []) {
            const ack = await emitWithAck(name, arg);
            if (ack.error && !plan.keepGoing) finish('refused');
          }
          if (!plan.steps || plan.finishAfterSteps) finish('steps');
        });
        for (const name of ['log', 'status', 'gap']) {
          socket.on(name, (data) => {
            out({ event: name, data });
            if (name === 'log' && plan.stopAfterLogs && ++logs >= plan.stopAfterLogs) finish('enough');
          });
        }
        socket.on('end', (data) => { out({ event: 'end', data }); finish('end'); });
        setTimeout(() => finish('timeout'), 80000);
        """;

    public static Task<List<JsonNode>> RunAsync(SlipwayServer server, string? token, string[]? transports = null, object[]? subscribe = null,
        int? stopAfterLogs = null, string? nsp = null, bool keepGoing = false) =>
        RunStepsAsync(server, token, transports, subscribe?.Select(s => ("subscribe", s)).ToArray(), stopAfterLogs, nsp, keepGoing);

    /// <summary>Emits each (event, argument) in turn with an ack; <paramref name="finishAfterSteps"/> ends after the last ack.</summary>
    public static async Task<List<JsonNode>> RunStepsAsync(SlipwayServer server, string? token, string[]? transports, (string Name, object Arg)[]? steps,
        int? stopAfterLogs = null, string? nsp = null, bool keepGoing = false, bool finishAfterSteps = false)
    {
        var plan = new Dictionary<string, object?>
        {
            ["url"] = server.BaseAddress.ToString().TrimEnd('/'), ["token"] = token, ["transports"] = transports, ["steps"] = steps?.Select(s => new object[] { s.Name, s.Arg }).ToArray(), ["finishAfterSteps"] = finishAfterSteps,
            ["stopAfterLogs"] = stopAfterLogs, ["namespace"] = nsp, ["keepGoing"] = keepGoing,
        };
        var output = await NodeScript.RunAsync(Script, [JsonSerializer.Serialize(plan)], timeout: TimeSpan.FromSeconds(100));
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
    }

    public static string Event(this JsonNode message) => message["event"]!.GetValue<string>();

    public static IEnumerable<JsonNode> Data(this IEnumerable<JsonNode> messages, string name) =>
        messages.Where(m => m.Event() == name).Select(m => m["data"]!);
}
