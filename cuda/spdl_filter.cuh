// The resampling filter shared by resize.cu and nv12_to_rgb.cu (see resize.cu for what it is).
// Tests hold a NumPy copy of exactly this arithmetic to check the kernels against.
#pragma once

namespace spdl {

// The source pixels [first, last) that output pixel `o` reads along one axis, the centre of
// its footprint in source coordinates and the filter's half-width (in source pixels).
struct Taps {
    int first;
    int last;
    float center;
    float support;
};

__device__ __forceinline__ Taps taps(int o, int src_len, int dst_len)
{
    const float scale = (float)src_len / (float)dst_len;
    Taps t;
    t.support = scale > 1.f ? scale : 1.f;
    t.center = ((float)o + 0.5f) * scale;
    int first = (int)floorf(t.center - t.support + 0.5f);
    int last = (int)floorf(t.center + t.support + 0.5f);
    t.first = first < 0 ? 0 : first;
    t.last = last > src_len ? src_len : last;
    return t;
}

// Triangle weight of source pixel `i` (centre i + 0.5) for the footprint `t`.
__device__ __forceinline__ float weight(int i, const Taps& t)
{
    const float d = fabsf(((float)i + 0.5f - t.center) / t.support);
    return d < 1.f ? 1.f - d : 0.f;
}

// Round to nearest (ties to even, as rintf does), then clamp to [0, 255].
__device__ __forceinline__ unsigned char to_u8(float v)
{
    v = rintf(v);
    return (unsigned char)(v < 0.f ? 0.f : (v > 255.f ? 255.f : v));
}

}  // namespace spdl
