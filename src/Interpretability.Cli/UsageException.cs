namespace Interpretability.Cli;

/// <summary>Bad usage found after parsing (an option value that is well-formed but wrong): exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
