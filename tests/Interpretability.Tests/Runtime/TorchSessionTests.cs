using System.Runtime.InteropServices;
using Interpretability.Tests.Infrastructure;
using TorchSharp;

namespace Interpretability.Tests.Runtime;

/// <summary>The session owns the thread count and OpenMP's wait policy; one at a time.</summary>
[Collection(RunsAloneCollection.Name)]
public sealed class TorchSessionTests
{
    [Fact]
    public void One_session_at_a_time()
    {
        Assert.Same(TestSession.Instance, TorchSession.Current);
        var e = Assert.Throws<InvalidOperationException>(() => TorchSession.Start());
        Assert.Contains("already open", e.Message);
    }

    [Fact]
    public void Thread_scopes_set_the_count_and_restore_it_in_reverse_order()
    {
        var session = TestSession.Instance;
        var before = torch.get_num_threads();
        using (session.UseThreads(2))
        {
            Assert.Equal(2, torch.get_num_threads());
            using (session.UseThreads(1)) Assert.Equal(1, torch.get_num_threads());
            Assert.Equal(2, torch.get_num_threads());
        }
        Assert.Equal(before, torch.get_num_threads());
        Assert.Throws<ArgumentOutOfRangeException>(() => session.UseThreads(0));
    }

    [Fact]
    public void The_wait_policy_reaches_the_native_environment_libgomp_reads()
    {
        // Set by the session before libtorch loaded, unless the environment already said otherwise.
        var policy = Marshal.PtrToStringAnsi(GetEnv("OMP_WAIT_POLICY"));
        if (TestSession.Instance.OpenMpWaitPolicy.Contains("set by the session", StringComparison.Ordinal)) Assert.Equal("PASSIVE", policy);
        else Assert.Contains("from the environment", TestSession.Instance.OpenMpWaitPolicy);
    }

    [DllImport("libc", EntryPoint = "getenv")]
    private static extern IntPtr GetEnv(string name);
}
