using System.CommandLine;
using Interpretability.Cli.Commands;
using Interpretability.Cuda;
using Interpretability.Studies;
using TorchSharp;

namespace Interpretability.Cli;

/// <summary>
/// The <c>interp</c> command line. Exit codes: 0 success; 2 bad usage (a one-line message says which option is wrong and
/// why); 1 failure (a clear message; the stack trace only with <c>--verbose</c>).
/// </summary>
public static class InterpCli
{
    /// <summary>Every sub-command. A capability adds its command here.</summary>
    public static IReadOnlyList<StudyCommand> Commands() => new StudyCommand[]
    {
        new ReportCommand(),
        new ProbingCommand(),
        new DynamicsCommand(),
        new DevicesCommand(),
        new EnsemblesCommand(),
        new AttributeCommand(),
        new ModelsCommand(),
        new FeatvizCommand(),
        new TuningCommand(),
    };

    /// <summary>Runs the CLI with <paramref name="args"/>, writing to <paramref name="stdout"/> and <paramref name="stderr"/>.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("interp — look inside neural networks: attribution, feature visualisation, neuron studies, synapse ensembles, learning dynamics.");
        foreach (var spec in Commands())
        {
            var command = new Command(spec.Name, spec.Description);
            var common = new CommonOptions();
            common.AddTo(command);
            spec.AddOptions(command);
            var captured = spec;
            command.SetAction(parse => Execute(captured, common, parse, args, stdout, stderr));
            root.Subcommands.Add(command);
        }

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // Prefer the error that names what the user typed (an unknown command or option) over consequential ones.
            var first = parsed.Errors.Select(e => e.Message).FirstOrDefault(m => parsed.UnmatchedTokens.Any(t => m.Contains(t)))
                        ?? parsed.Errors[0].Message;
            if (parsed.CommandResult.Command == root && parsed.UnmatchedTokens.Count == 0)
                first = $"a command is required: {string.Join(", ", Commands().Select(c => c.Name))} (see 'interp --help').";
            stderr.WriteLine($"interp: {first}");
            return 2;
        }
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        return parsed.Invoke(config);
    }

    /// <summary>Creates the output folder and proves a file can be written there, or throws a usage error naming --out.</summary>
    private static void CheckWritable(string folder)
    {
        try
        {
            Directory.CreateDirectory(folder);
            var probe = Path.Combine(folder, $".interp-write-test-{Environment.ProcessId}-{Guid.NewGuid():N}");
            File.WriteAllBytes(probe, Array.Empty<byte>());
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new UsageException($"--out '{folder}' cannot be written to: {e.Message}");
        }
    }

    private static int Execute(StudyCommand spec, CommonOptions common, ParseResult parse, string[] args, TextWriter stdout, TextWriter stderr)
    {
        var verbose = parse.GetValue(common.Verbose);
        var quiet = parse.GetValue(common.Quiet);
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        Console.CancelKeyPress += onCancel;
        try
        {
            NativeLibtorch.LoadFromEnvironment();   // INTERP_LIBTORCH_DIR: an existing libtorch installation
            // The CLI owns the process's settings; run in-process by a host that already holds a session (the tests), it
            // uses that one and sets --threads, when given, for the command's duration only.
            var threads = parse.GetValue(common.Threads);
            using var ownSession = TorchSession.Current is null ? TorchSession.Start(new TorchSessionOptions(Threads: threads, CheckCpuConvolution: true)) : null;
            var session = ownSession ?? TorchSession.Current!;
            using var threadScope = ownSession is null && threads is int n ? session.UseThreads(n) : null;
            CheckWritable(parse.GetValue(common.Out)!);
            var device = DevicePolicy.Resolve(parse.GetValue(common.Device)!);
            device.Apply();
            var quick = parse.GetValue(common.Quick);
            // On CUDA, batched kernels halve their batch on out-of-memory and remember what fitted.
            IBatchRunner batches = device.Device.type == DeviceType.CUDA ? new AutoBatchSizer { OnOutOfMemory = () => GC.Collect() } : FixedBatchRunner.Instance;
            var context = new StudyContext(parse.GetValue(common.Out)!, parse.GetValue(common.Seed), quick, device.Device, null, cancel.Token, batches: batches, session: session);
            var result = ProgressDisplay.Run(quiet, stderr, progress =>
            {
                var withProgress = new StudyContext(context.OutputDirectory, context.Seed, context.Quick, context.Device, progress, context.Cancellation, batches: context.Batches, session: session);
                return spec.Execute(parse, withProgress, ReportProvenance.OfLibrary(ReportProvenance.FormatCommandLine("interp", args)));
            });
            foreach (var (name, error) in result.Failures)
                stderr.WriteLine($"interp: section '{name}' failed: {error.Message}" + (verbose ? "\n" + error : ""));
            stdout.WriteLine(result.IndexPath);
            stdout.WriteLine(result.MetricsPath);
            return 0;
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"interp {spec.Name}: {e.Message}");
            return 2;
        }
        catch (CudaUnavailableException e)
        {
            stderr.WriteLine($"interp {spec.Name}: {e.Message}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            stderr.WriteLine($"interp {spec.Name}: cancelled; files already written are complete, none is half-written.");
            return 1;
        }
        catch (Exception e)
        {
            stderr.WriteLine($"interp {spec.Name}: {e.GetType().Name}: {e.Message}");
            if (verbose) stderr.WriteLine(e);
            else stderr.WriteLine("(run with --verbose for the stack trace)");
            return 1;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}
