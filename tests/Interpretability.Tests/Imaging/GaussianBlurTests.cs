using Interpretability.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Tests.Imaging;

public class GaussianBlurTests
{
    [Fact]
    public void A_point_becomes_the_normalised_gaussian_and_a_flat_image_stays_flat()
    {
        const double sigma = 1.5;
        var delta = zeros(1, 1, 21, 21);
        delta[0, 0, 10, 10] = tensor(1f);
        var blurred = GaussianBlur.Apply(delta, sigma)[0, 0];
        int r = (int)Math.Ceiling(3 * sigma);
        double norm = Enumerable.Range(-r, 2 * r + 1).Sum(x => Math.Exp(-x * x / (2 * sigma * sigma)));
        foreach (var (y, x) in new[] { (10, 10), (10, 12), (8, 11), (10, 14), (5, 10) })
        {
            double dy = y - 10, dx = x - 10;
            double expected = Math.Abs(dy) > r || Math.Abs(dx) > r ? 0 : Math.Exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)) / (norm * norm);
            Assert.Equal(expected, blurred[y, x].ToDouble(), 6);
        }
        Assert.Equal(1.0, blurred.sum().ToDouble(), 5);                  // mass kept away from the border
        var flat = full(2, 3, 9, 7, 0.3f);
        Assert.True(allclose(GaussianBlur.Apply(flat, 4), flat, 1e-5, 1e-6));   // reflected borders: no darkening
    }

    [Fact]
    public void Bad_sigma_and_shape_are_named()
    {
        Assert.Equal("sigma", Assert.Throws<ArgumentOutOfRangeException>(() => GaussianBlur.Apply(zeros(1, 1, 4, 4), 0)).ParamName);
        Assert.Equal("sigma", Assert.Throws<ArgumentOutOfRangeException>(() => GaussianBlur.Apply(zeros(1, 1, 4, 4), double.NaN)).ParamName);
        Assert.Equal("images", Assert.Throws<ArgumentException>(() => GaussianBlur.Apply(zeros(4, 4), 1)).ParamName);
    }
}
