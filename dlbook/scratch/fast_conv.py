r"""How convolution is computed fast: im2col + GEMM, FFT and Winograd F(2x2, 3x3), side by side.

All of them compute :func:`~dlbook.scratch.conv.conv2d` (the cross-correlation of
``torch.nn.functional.conv2d``) with its signature and argument checks; they differ only in how
many multiplications they spend and where:

* **Direct loops** (:func:`~dlbook.scratch.conv.conv2d_naive`) and **im2col + GEMM**
  (:func:`conv2d_im2col`): every output value is a dot product of ``C_in k^2`` numbers. im2col
  copies the windows into a matrix so that one matrix multiply does them all; same count.
* **FFT** (:func:`conv2d_fft`): a convolution is a product in the frequency domain, so after
  ``C_in`` input FFTs and ``C_in C_out`` kernel FFTs each output channel costs one complex product
  per frequency and input channel, whatever the kernel size. It wins for large kernels.
* **Winograd F(2x2, 3x3)** (:func:`conv2d_winograd`, Lavin & Gray 2016): a 4x4 input tile and a
  3x3 kernel give a 2x2 output with 16 multiplications instead of 36, after transforms that
  need only additions (and halvings, for the kernel):
  :math:`Y = A^\top [(G g G^\top) \odot (B^\top d B)] A`.

:func:`conv_arithmetic` counts each algorithm's multiplications, so the measured times can be
put beside the arithmetic. None has its own backward: the gradients are those of the function
they all compute, :func:`~dlbook.scratch.conv.conv2d_backward`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dlbook import checks
from dlbook.scratch.conv import conv_geometry
from dlbook.scratch.im2col import im2col
from dlbook.verify import max_abs_error

__all__ = [
    "WINOGRAD_B",
    "WINOGRAD_G",
    "WINOGRAD_A",
    "conv2d_im2col",
    "conv2d_fft",
    "conv2d_winograd",
    "winograd_tile",
    "winograd_error",
    "float32_error",
    "fft_size",
    "ConvArithmetic",
    "conv_arithmetic",
]


def _constant(rows) -> np.ndarray:
    a = np.array(rows, dtype=np.float64)
    a.flags.writeable = False
    return a


# Y = A^T [(G g G^T) * (B^T d B)] A  for a 4x4 input tile d and a 3x3 kernel g (Lavin & Gray).
WINOGRAD_B = _constant([[1, 0, 0, 0], [0, 1, -1, 1], [-1, 1, 1, 0], [0, 0, 0, -1]])  # (4, 4)
WINOGRAD_G = _constant([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])  # (4, 3)
WINOGRAD_A = _constant([[1, 0], [1, 1], [1, -1], [0, -1]])  # (4, 2)


def _prepare(input, weight, bias, stride, padding, dilation, groups):
    x, unbatched = checks.batched(input, "input")
    return x, unbatched, conv_geometry(x, weight, bias, stride, padding, dilation, groups)


def _finite(x, weight, algorithm):
    """An inf or NaN would spread beyond its own windows (over a tile's outputs, or the whole
    image through the FFT), where conv2d keeps it in place: refused rather than silently wrong."""
    for a, name in ((x, "input"), (weight, "weight")):
        if not np.isfinite(a).all():
            raise ValueError(
                f"{name}: {algorithm} needs finite values (inf or NaN found); use conv2d"
            )


def _add_up(matrix, parts):
    """``[sum_i matrix[i, j] parts[i] for each column j]`` for a matrix of 0s and +-1s (B, A):
    a Winograd data transform written as the additions and subtractions it is."""
    out = []
    for column in matrix.T:
        acc = None
        for coef, p in zip(column.tolist(), parts):
            if coef != 0:
                if acc is None:
                    acc = p if coef > 0 else -p
                else:
                    acc = acc + p if coef > 0 else acc - p
        out.append(acc)
    return out


def _finish(y, bias, unbatched):
    if bias is not None:
        y += bias[:, None, None]
    return y[0] if unbatched else y


def _padded(x, pads, extra=(0, 0)):
    """``x`` zero-padded by ``pads`` plus ``extra`` more rows/columns at the bottom/right."""
    (top, bottom), (left, right) = pads
    return np.pad(x, ((0, 0), (0, 0), (top, bottom + extra[0]), (left, right + extra[1])))


def conv2d_im2col(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """:func:`~dlbook.scratch.conv.conv2d` as textbook im2col + one matrix multiply.

    The whole batch's windows are copied into one column matrix (``k^2`` times the input's size)
    and multiplied by the flattened kernels at once: readable, memory-hungry. ``conv2d`` itself
    does the same arithmetic in cache-sized chunks.

    Shapes:
        input: (N, C_in, H, W) or unbatched (C_in, H, W)
        weight: (C_out, C_in / groups, kH, kW); bias: (C_out,) or None
        columns: (N, groups, C_in / groups * kH * kW, H_out * W_out)
        returns: (N, C_out, H_out, W_out), H_out = floor((H + 2 p - d (kH - 1) - 1) / s) + 1
    Formula:
        out[n, g, o, :] = weight[g, o, :] @ columns[n, g], weight flattened to
        (groups, C_out / groups, C_in / groups * kH * kW)
    Torch:
        torch.nn.functional.conv2d
    """
    x, unbatched, geo = _prepare(input, weight, bias, stride, padding, dilation, groups)
    cols = im2col(_padded(x, geo.pads), geo.kernel, geo.stride, geo.dilation, geo.out, geo.groups)
    w = weight.reshape(geo.groups, geo.out_channels // geo.groups, cols.shape[2])
    y = np.matmul(w, cols)  # (N, groups, C_out / groups, H_out * W_out)
    return _finish(y.reshape(geo.n, geo.out_channels, *geo.out), bias, unbatched)


def fft_size(n: int) -> int:
    """The smallest length ``>= n`` whose only prime factors are 2, 3 and 5 (fast for an FFT).

    Shapes:
        n: int >= 1
        returns: int
    Formula:
        min {2^a 3^b 5^c >= n}
    Torch:
        none (scipy.fft.next_fast_len does this for SciPy's FFT)
    """
    n = checks.check_int(n, "n", 1)
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def conv2d_fft(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """:func:`~dlbook.scratch.conv.conv2d` through the FFT: a product per frequency.

    Cross-correlating with ``w`` is convolving with ``w`` flipped, and a convolution is a
    pointwise product of Fourier transforms. The padded input and the flipped (dilated) kernel
    are both transformed at a size ``F >= `` the padded input (:func:`fft_size`), which leaves the
    valid outputs free of wrap-around. A stride is taken by keeping every ``s``-th output of the
    stride-1 result (the skipped ones are computed anyway: the FFT saves nothing there). An inf
    or NaN in ``input`` or ``weight`` would spread over the whole image: a ValueError.

    Shapes:
        input: (N, C_in, H, W) or unbatched (C_in, H, W)
        weight: (C_out, C_in / groups, kH, kW); bias: (C_out,) or None
        spectra: (N, C_in, F_h, F_w / 2 + 1) and (C_out, C_in / groups, F_h, F_w / 2 + 1)
        returns: (N, C_out, H_out, W_out), H_out = floor((H + 2 p - d (kH - 1) - 1) / s) + 1
    Formula:
        Y[n, o] = sum_c rfft2(x_pad[n, g(o) C_g + c]) * rfft2(flip(w_dilated[o, c]));
        out[n, o, i, j] = irfft2(Y[n, o])[K_h - 1 + s_h i, K_w - 1 + s_w j] + bias[o],
        K = d (k - 1) + 1 the dilated kernel's span
    Torch:
        torch.nn.functional.conv2d
    """
    x, unbatched, geo = _prepare(input, weight, bias, stride, padding, dilation, groups)
    _finite(x, weight, "conv2d_fft")
    xp = _padded(x, geo.pads)
    (dh, dw), (sh, sw), (oh, ow) = geo.dilation, geo.stride, geo.out
    o, c_g, kh, kw = weight.shape
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    kernel = np.zeros((o, c_g, span_h, span_w), dtype=x.dtype)
    kernel[:, :, ::dh, ::dw] = weight  # dilation: zeros between the taps
    size = (fft_size(xp.shape[2]), fft_size(xp.shape[3]))
    spec_x = np.fft.rfft2(xp, s=size)  # (N, C_in, F_h, F_w / 2 + 1)
    spec_w = np.fft.rfft2(kernel[:, :, ::-1, ::-1], s=size)  # (C_out, C_g, F_h, F_w / 2 + 1)
    # The sum over input channels, as one matrix product per frequency and group.
    g, o_g = geo.groups, o // geo.groups
    a = spec_x.reshape(geo.n, g, c_g, -1).transpose(1, 3, 0, 2)  # (G, freq, N, C_g)
    b = spec_w.reshape(g, o_g, c_g, -1).transpose(0, 3, 2, 1)  # (G, freq, C_g, O_g)
    prod = np.matmul(a, b).transpose(2, 0, 3, 1)  # (N, G, O_g, freq)
    full = np.fft.irfft2(prod.reshape(geo.n, o, *spec_x.shape[2:]), s=size)
    rows = slice(span_h - 1, span_h + sh * (oh - 1), sh)
    cols = slice(span_w - 1, span_w + sw * (ow - 1), sw)
    return _finish(full[:, :, rows, cols].astype(x.dtype), bias, unbatched)


def winograd_tile(tile, kernel):
    """One Winograd F(2x2, 3x3) step: a 4x4 input tile and a 3x3 kernel give a 2x2 output.

    The kernel and the tile are each transformed to 4x4; their 16 elementwise products replace
    the 36 of the direct 2x2 output, and the output transform adds them back together.

    Shapes:
        tile: (..., 4, 4); kernel: (..., 3, 3), broadcasting against tile
        returns: (..., 2, 2)
    Formula:
        Y = A^T [(G g G^T) * (B^T d B)] A, with A, B, G = WINOGRAD_A, WINOGRAD_B, WINOGRAD_G;
        Y[i, j] = sum_{u,v} g[u, v] d[i + u, j + v]
    Torch:
        none (a step inside torch.nn.functional.conv2d's Winograd kernels, e.g. in NNPACK)
    """
    b, g, a = (m.astype(tile.dtype) for m in (WINOGRAD_B, WINOGRAD_G, WINOGRAD_A))
    return a.T @ ((g @ kernel @ g.T) * (b.T @ tile @ b)) @ a


def conv2d_winograd(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """:func:`~dlbook.scratch.conv.conv2d` for 3x3 kernels by Winograd F(2x2, 3x3).

    The padded input is cut into 4x4 tiles that overlap by 2 (a stride of 2), each giving a 2x2
    block of the output; an odd output size gets one more row or column of zeros, and the extra
    output is cropped. After the transforms, the 16 products of every tile and (input, output)
    channel pair are 16 matrix products over the channels, ``U[xi, nu] @ V[xi, nu]``. Only 3x3
    kernels, stride 1 and dilation 1: any other is a ValueError, as is an inf or NaN in
    ``input`` or ``weight`` (the transforms would spread it over its tiles' outputs).

    Shapes:
        input: (N, C_in, H, W) or unbatched (C_in, H, W)
        weight: (C_out, C_in / groups, 3, 3); bias: (C_out,) or None
        U: (4, 4, groups, C_out / groups, C_in / groups); V: (4, 4, groups, C_in / groups, P),
        P = N T_h T_w tiles, T = ceil(out / 2)
        returns: (N, C_out, H_out, W_out), H_out = H + 2 p - 2
    Formula:
        U = G w G^T, V = B^T d B per tile d; M[xi, nu] = U[xi, nu] @ V[xi, nu] (16 GEMMs per
        group); out tile = A^T M A, cropped to (H_out, W_out), + bias
    Torch:
        torch.nn.functional.conv2d
    """
    x, unbatched, geo = _prepare(input, weight, bias, stride, padding, dilation, groups)
    if geo.kernel != (3, 3):
        raise ValueError(f"weight: Winograd F(2x2, 3x3) needs 3x3 kernels, got {geo.kernel}")
    if geo.stride != (1, 1):
        raise ValueError(f"stride: Winograd F(2x2, 3x3) needs stride 1, got {geo.stride}")
    if geo.dilation != (1, 1):
        raise ValueError(f"dilation: Winograd F(2x2, 3x3) needs dilation 1, got {geo.dilation}")
    _finite(x, weight, "conv2d_winograd")
    (oh, ow), n, c, o, g = geo.out, geo.n, geo.in_channels, geo.out_channels, geo.groups
    th, tw = -(-oh // 2), -(-ow // 2)  # tiles per column and row
    # Channels first, so that each of the 16 GEMMs reads contiguous (C_g, N th tw) blocks.
    xp = _padded(x.transpose(1, 0, 2, 3), geo.pads, extra=(2 * th - oh, 2 * tw - ow))
    # Column k of every tile, as contiguous slices: tile t's columns 2t + k split by parity.
    even, odd = np.ascontiguousarray(xp[..., 0::2]), np.ascontiguousarray(xp[..., 1::2])
    cols = [even[..., :tw], odd[..., :tw], even[..., 1 : tw + 1], odd[..., 1 : tw + 1]]
    v = np.empty((4, 4, c, n, th, tw), x.dtype)  # B^T d B for every tile d at once
    for j, col in enumerate(_add_up(WINOGRAD_B, cols)):  # d B, then B^T (d B)
        for i, entry in enumerate(
            _add_up(WINOGRAD_B, [col[:, :, k::2][:, :, :th] for k in range(4)])
        ):
            v[i, j] = entry
    # G w G^T for every kernel, as one matrix product: kron(G, G) maps a kernel's 9 entries to
    # its 16 (the kernels of a trained network would be transformed once and kept).
    u = np.kron(WINOGRAD_G, WINOGRAD_G).astype(x.dtype) @ weight.reshape(o * (c // g), 9).T
    m = np.matmul(u.reshape(16, g, o // g, c // g), v.reshape(16, g, c // g, n * th * tw))
    m = m.reshape(4, 4, o, n, th, tw)  # the 16 GEMMs' products, tile entry by tile entry
    y = np.empty((n, o, th, 2, tw, 2), x.dtype)  # A^T M A, each tile's 2x2 put in its place
    for i, r in enumerate(_add_up(WINOGRAD_A, list(m))):
        for j, col in enumerate(_add_up(WINOGRAD_A, list(r))):
            y[:, :, :, i, :, j] = col.transpose(1, 0, 2, 3)
    y = y.reshape(n, o, 2 * th, 2 * tw)[:, :, :oh, :ow]
    return _finish(np.ascontiguousarray(y), bias, unbatched)


def float32_error(conv, input, weight, bias=None, **kwargs) -> float:
    """How far ``conv`` run in float32 lands from the exact result: ``max |y_32 - y_64|``.

    The arrays are rounded to float32 first, and the reference is :func:`conv2d_im2col` in
    float64 on those same rounded values, so only the arithmetic's rounding is measured.

    Shapes:
        input, weight, bias: as in conv2d, any floating dtype; kwargs: conv's other arguments
        returns: float
    Formula:
        max_{n,o,i,j} |conv(x32, w32, b32)[n, o, i, j] - conv2d(x32, w32, b32)[n, o, i, j]|,
        the reference in float64
    Torch:
        none (torch.nn.functional.conv2d in float32 against float64 measures the same)
    """
    named = ((input, "input"), (weight, "weight"), (bias, "bias"))
    arrays = [None if a is None else checks.any_float_array(a, name) for a, name in named]
    low = [None if a is None else a.astype(np.float32) for a in arrays]
    reference = conv2d_im2col(*(None if a is None else a.astype(np.float64) for a in low), **kwargs)
    return max_abs_error(conv(*low, **kwargs), reference)


def winograd_error(input, weight, bias=None, padding=0, groups=1) -> float:
    """The float32 error of :func:`conv2d_winograd`: ``float32_error(conv2d_winograd, ...)``.

    Shapes:
        input: (N, C_in, H, W); weight: (C_out, C_in / groups, 3, 3); bias: (C_out,) or None
        returns: float
    Formula:
        max |conv2d_winograd(x32, w32, b32) - conv2d(x32, w32, b32) in float64|
    Torch:
        none (no torch function reports a convolution's rounding error)
    """
    return float32_error(conv2d_winograd, input, weight, bias, padding=padding, groups=groups)


ALGORITHMS = ("direct", "im2col", "fft", "winograd")


@dataclass(frozen=True)
class ConvArithmetic:
    """The arithmetic of one convolution by one algorithm (see :func:`conv_arithmetic`).

    ``products`` counts the real multiplications of the main stage, each paired with an addition
    that accumulates it; ``transforms`` counts the additions and multiplications spent moving in
    and out of the algorithm's domain (0 for direct and im2col).

    Shapes:
        algorithm: str; products: int; transforms: int or float (the FFT's is an estimate)
        flops: float
    Formula:
        flops = 2 products + transforms
    Torch:
        none (torch does not report the arithmetic of its convolution algorithms)
    """

    algorithm: str
    products: int
    transforms: float

    @property
    def flops(self) -> float:
        return 2 * self.products + self.transforms


def conv_arithmetic(n, c_in, c_out, h, w, k, algorithm, padding=0, groups=1) -> ConvArithmetic:
    """How many multiplications a stride-1 ``k x k`` convolution costs with each algorithm.

    ``algorithm`` is ``'direct'`` or ``'im2col'`` (the same count), ``'fft'`` or ``'winograd'``
    (k = 3 only). With ``H_out = h + 2 padding - k + 1`` (likewise W_out) and
    ``C_g = c_in / groups``:

    * direct, im2col: ``C_g k^2`` products per output value, no transform.
    * winograd F(2x2, 3x3): 16 products per 2x2 output tile and channel pair, against 36 direct:
      2.25 times fewer. Transforms, written out with shared sums: the input tile ``B^T d B`` is
      32 additions per tile and input channel, the output ``A^T M A`` 24 additions per tile and
      output channel, the kernel ``G g G^T`` 35 operations per (output, input) channel pair
      (``t = g0 + g2``, ``(t + g1) / 2``, ``(t - g1) / 2``: 3 additions and 2 halvings per
      column of 3, for the 3 columns of g and then the 4 rows of G g; a trained network's
      kernels can be transformed once, and :func:`conv2d_winograd` spends 16 x 9 multiply-adds
      per kernel on it, as one matrix product).
    * fft at ``F_h x F_w = fft_size(h + 2 padding) x fft_size(w + 2 padding)``, as
      :func:`conv2d_fft` does it: one complex multiply-add (4 real products) per frequency of the
      ``F_h (F_w / 2 + 1)`` of a real FFT, per image and channel pair. Transforms: the usual
      estimate of ``2.5 F log2 F`` real operations for a real 2-D FFT of ``F = F_h F_w`` points,
      done for the ``n c_in`` inputs, the ``c_out C_g`` kernels and the ``n c_out`` inverse ones.

    Shapes:
        n, c_in, c_out, h, w, k, padding, groups: ints; algorithm: str
        returns: a ConvArithmetic
    Formula:
        direct, im2col: products = n c_out H_out W_out C_g k^2; transforms = 0
        winograd: T = n ceil(H_out / 2) ceil(W_out / 2); products = 16 T c_out C_g;
        transforms = 32 T c_in + 24 T c_out + 35 c_out C_g
        fft: products = 4 n c_out C_g F_h (F_w // 2 + 1);
        transforms = 2.5 F_h F_w log2(F_h F_w) (n c_in + c_out C_g + n c_out)
    Torch:
        none (torch does not report the arithmetic of its convolution algorithms)
    """
    n, c_in, c_out, h, w, k, groups = (
        checks.check_int(v, name)
        for v, name in zip(
            (n, c_in, c_out, h, w, k, groups), ("n", "c_in", "c_out", "h", "w", "k", "groups")
        )
    )
    padding = checks.check_int(padding, "padding", 0)
    if c_in % groups or c_out % groups:
        raise ValueError(f"groups={groups} must divide both c_in={c_in} and c_out={c_out}")
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    oh, ow = h + 2 * padding - k + 1, w + 2 * padding - k + 1
    if min(oh, ow) < 1:
        raise ValueError(
            f"k={k} is larger than the padded input {h + 2 * padding}x{w + 2 * padding}"
        )
    c_g = c_in // groups
    if algorithm in ("direct", "im2col"):
        return ConvArithmetic(algorithm, n * c_out * oh * ow * c_g * k * k, 0)
    if algorithm == "winograd":
        if k != 3:
            raise ValueError(f"k: Winograd F(2x2, 3x3) needs k=3, got {k}")
        tiles = n * -(-oh // 2) * -(-ow // 2)
        transforms = 32 * tiles * c_in + 24 * tiles * c_out + 35 * c_out * c_g
        return ConvArithmetic(algorithm, 16 * tiles * c_out * c_g, transforms)
    fh, fw = fft_size(h + 2 * padding), fft_size(w + 2 * padding)
    points = fh * fw
    ffts = n * c_in + c_out * c_g + n * c_out
    transforms = 2.5 * points * math.log2(points) * ffts if points > 1 else 0.0
    return ConvArithmetic(algorithm, 4 * n * c_out * c_g * fh * (fw // 2 + 1), transforms)
