// Batched resize of planar 8-bit RGB images (nvJPEG's output) into one (B, 3, H, W) or
// (B, H, W, 3) uint8 buffer, with the same filter as nv12_to_rgb.cu.
//
// The filter is an area-aware bilinear (triangle) filter: when shrinking by a factor s, the
// triangle is s source pixels wide, so every source pixel contributes and fine detail does not
// alias (plain 4-tap bilinear skips pixels when shrinking more than 2x). At a factor of 1 it
// reduces to an exact copy; when enlarging it is ordinary bilinear with edge clamping. Pixel
// centres are at (i + 0.5), as in FFmpeg's swscale and PIL.
//
// Compiled at run time with NVRTC (through CuPy); no headers beyond the built-ins.

#include "spdl_filter.cuh"

// One thread per output pixel; blockIdx.z is the image in the batch.
//   src_ptrs[b]        device address of image b: 3 planes of src_h x src_w bytes (pitch src_w)
//   src_sizes[2b, 2b+1] its height and width
//   dst                the output batch, B images of dst_h x dst_w
//   channels_last      0: (B, 3, H, W); 1: (B, H, W, 3)
extern "C" __global__ void resize_rgb_planar_u8(
    const unsigned long long* __restrict__ src_ptrs,
    const int* __restrict__ src_sizes,
    unsigned char* __restrict__ dst,
    int dst_h, int dst_w, int channels_last)
{
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    const int b = blockIdx.z;
    if (x >= dst_w || y >= dst_h) {
        return;
    }
    const unsigned char* src = reinterpret_cast<const unsigned char*>(src_ptrs[b]);
    const int src_h = src_sizes[2 * b];
    const int src_w = src_sizes[2 * b + 1];
    const size_t src_plane = (size_t)src_h * src_w;

    spdl::Taps tx = spdl::taps(x, src_w, dst_w);
    spdl::Taps ty = spdl::taps(y, src_h, dst_h);

    float acc[3] = {0.f, 0.f, 0.f};
    float wsum = 0.f;
    for (int j = ty.first; j < ty.last; ++j) {
        const float wy = spdl::weight(j, ty);
        if (wy <= 0.f) continue;
        for (int i = tx.first; i < tx.last; ++i) {
            const float w = wy * spdl::weight(i, tx);
            if (w <= 0.f) continue;
            const size_t off = (size_t)j * src_w + i;
            acc[0] += w * src[off];
            acc[1] += w * src[src_plane + off];
            acc[2] += w * src[2 * src_plane + off];
            wsum += w;
        }
    }
    const size_t dst_plane = (size_t)dst_h * dst_w;
    unsigned char* out = dst + (size_t)b * 3 * dst_plane;
    for (int c = 0; c < 3; ++c) {
        const unsigned char v = spdl::to_u8(acc[c] / wsum);
        if (channels_last) {
            out[((size_t)y * dst_w + x) * 3 + c] = v;
        } else {
            out[c * dst_plane + (size_t)y * dst_w + x] = v;
        }
    }
}
