using Interpretability.Cli;

return InterpCli.Run(args, Console.Out, Console.Error);
