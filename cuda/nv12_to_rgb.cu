// NVDEC's NV12 frames to 8-bit RGB in CUDA memory, with crop and resize in the same pass.
//
// NV12: a luma plane (h rows of `y_pitch` bytes) and an interleaved U/V plane at half
// resolution in both directions (h/2 rows of `uv_pitch` bytes). Each chroma sample covers the
// 2x2 luma pixels it sits on (nearest chroma, as FFmpeg's unscaled swscale path does), so an
// unscaled conversion matches FFmpeg's yuv420p -> rgb24 closely. YCbCr -> RGB uses the matrix
// the caller passes (BT.601 or BT.709, limited or full range; see spdl/io/_cuda_kernels.py).
// Resizing uses the filter in spdl_filter.cuh over RGB values.

#include "spdl_filter.cuh"

struct YuvMatrix {
    float y_scale;   // 255/219 (limited range) or 1 (full range)
    float y_offset;  // 16 or 0
    float c_scale;   // 255/224 (limited) or 1 (full)
    float r_v;       // R = Y' + r_v * V'
    float g_u;       // G = Y' - g_u * U' - g_v * V'
    float g_v;
    float b_u;       // B = Y' + b_u * U'
};

__device__ __forceinline__ void nv12_pixel(
    const unsigned char* __restrict__ y_plane, int y_pitch,
    const unsigned char* __restrict__ uv_plane, int uv_pitch,
    int i, int j, const YuvMatrix& m, float rgb[3])
{
    const float yv = ((float)y_plane[(size_t)j * y_pitch + i] - m.y_offset) * m.y_scale;
    const unsigned char* uv = uv_plane + (size_t)(j >> 1) * uv_pitch + (size_t)(i >> 1) * 2;
    const float u = ((float)uv[0] - 128.f) * m.c_scale;
    const float v = ((float)uv[1] - 128.f) * m.c_scale;
    rgb[0] = yv + m.r_v * v;
    rgb[1] = yv - m.g_u * u - m.g_v * v;
    rgb[2] = yv + m.b_u * u;
}

// One thread per output pixel of one frame; the caller launches once per frame (NVDEC hands
// frames over one at a time) with `dst` pointing at that frame's slot in the (N, ...) output.
//   crop_x, crop_y, crop_w, crop_h   the source rectangle to convert (the whole frame: 0, 0, w, h)
//   channels_last                    0: (3, H, W); 1: (H, W, 3)
//   bgr                              write B, G, R instead of R, G, B
extern "C" __global__ void nv12_to_rgb(
    const unsigned char* __restrict__ y_plane, int y_pitch,
    const unsigned char* __restrict__ uv_plane, int uv_pitch,
    int crop_x, int crop_y, int crop_w, int crop_h,
    unsigned char* __restrict__ dst, int dst_h, int dst_w,
    int channels_last, int bgr,
    float y_scale, float y_offset, float c_scale,
    float r_v, float g_u, float g_v, float b_u)
{
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= dst_w || y >= dst_h) {
        return;
    }
    const YuvMatrix m = {y_scale, y_offset, c_scale, r_v, g_u, g_v, b_u};
    const spdl::Taps tx = spdl::taps(x, crop_w, dst_w);
    const spdl::Taps ty = spdl::taps(y, crop_h, dst_h);

    float acc[3] = {0.f, 0.f, 0.f};
    float wsum = 0.f;
    float rgb[3];
    for (int j = ty.first; j < ty.last; ++j) {
        const float wy = spdl::weight(j, ty);
        if (wy <= 0.f) continue;
        for (int i = tx.first; i < tx.last; ++i) {
            const float w = wy * spdl::weight(i, tx);
            if (w <= 0.f) continue;
            nv12_pixel(y_plane, y_pitch, uv_plane, uv_pitch, crop_x + i, crop_y + j, m, rgb);
            acc[0] += w * rgb[0];
            acc[1] += w * rgb[1];
            acc[2] += w * rgb[2];
            wsum += w;
        }
    }
    const size_t plane = (size_t)dst_h * dst_w;
    for (int c = 0; c < 3; ++c) {
        const unsigned char v = spdl::to_u8(acc[bgr ? 2 - c : c] / wsum);
        if (channels_last) {
            dst[((size_t)y * dst_w + x) * 3 + c] = v;
        } else {
            dst[c * plane + (size_t)y * dst_w + x] = v;
        }
    }
}
