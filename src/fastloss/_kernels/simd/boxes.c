/* GIoU over blocks of boxes (boxes.pyx `_block`), written once against
 * vec.h; included by target.c, compiled once per vector target (the scalar
 * target has none: its path is boxes.pyx's closed forms).
 *
 * FL_NF64 boxes at a time in float64 lanes, one vector per coordinate
 * (vec.h's box transposes turn the (n, 4) rows into columns and the
 * gradient back).  The formula is boxes.pyx's giou_formula (with
 * _overlap, _enclosing and their gradients), format conversion and chain
 * rule operation for operation in the same order: the build never fuses
 * a*b+c (-ffp-contract=off) and every max/min is the same select, so each
 * box gets the bits of the closed form (float32 data is widened exactly
 * and rounded once at the store, as there); only the block sum adds its
 * terms in another (fixed) order. */
#if !defined(FL_TARGET_SCALAR)

/* d max(a, b) / da as the closed form's _dmax: 1, 1/2 at a tie, 0 (NaN) */
FL_INLINE vf64 fl_dmax64(vf64 a, vf64 b) {
    const vf64 one = vf64_set1(1.0);
    return vf64_mul(vf64_set1(0.5), vf64_add(vf64_keep(vf64_ge(a, b), one),
                                             vf64_keep(vf64_gt(a, b), one)));
}

/* (x1, y1, x2, y2) from format fmt (boxes.pyx _to_xyxy) */
FL_INLINE void fl_box_to_xyxy(int fmt, vf64 b[4]) {
    if (fmt == 1) {
        b[2] = vf64_add(b[0], b[2]);
        b[3] = vf64_add(b[1], b[3]);
    } else if (fmt == 2) {
        vf64 hw = vf64_mul(vf64_set1(0.5), b[2]), hh = vf64_mul(vf64_set1(0.5), b[3]);
        b[2] = vf64_add(b[0], hw);
        b[3] = vf64_add(b[1], hh);
        b[0] = vf64_sub(b[0], hw);
        b[1] = vf64_sub(b[1], hh);
    }
}

/* the corner gradient chained to format fmt (boxes.pyx _from_xyxy_grad) */
FL_INLINE void fl_box_from_xyxy_grad(int fmt, vf64 g[4]) {
    vf64 g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3];
    if (fmt == 1) {
        g[0] = vf64_add(g0, g2);
        g[1] = vf64_add(g1, g3);
    } else if (fmt == 2) {
        g[0] = vf64_add(g0, g2);
        g[1] = vf64_add(g1, g3);
        g[2] = vf64_mul(vf64_set1(0.5), vf64_sub(g2, g0));
        g[3] = vf64_mul(vf64_set1(0.5), vf64_sub(g3, g1));
    }
}

/* GIoU of boxes f against t (xyxy): 1 - I/(U+eps) + (C - U)/(C+eps); the
 * corner gradient to g when g is not NULL */
FL_INLINE vf64 fl_giou64(const vf64 t[4], const vf64 f[4], vf64 eps, vf64* g) {
    const vf64 one = vf64_set1(1.0);
    /* _overlap */
    vf64 ix1 = vf64_select(vf64_gt(f[0], t[0]), f[0], t[0]);
    vf64 iy1 = vf64_select(vf64_gt(f[1], t[1]), f[1], t[1]);
    vf64 ix2 = vf64_select(vf64_lt(f[2], t[2]), f[2], t[2]);
    vf64 iy2 = vf64_select(vf64_lt(f[3], t[3]), f[3], t[3]);
    vf64 iw = vf64_sub(ix2, ix1), ih = vf64_sub(iy2, iy1);
    mf64 ov = mf64_and(vf64_gt(iy2, iy1), vf64_gt(ix2, ix1));
    vf64 inter = vf64_keep(ov, vf64_mul(iw, ih));
    vf64 w1 = vf64_sub(f[2], f[0]), h1 = vf64_sub(f[3], f[1]);
    vf64 uni = vf64_sub(vf64_add(vf64_mul(w1, h1),
                                 vf64_mul(vf64_sub(t[2], t[0]), vf64_sub(t[3], t[1]))), inter);
    vf64 ue = vf64_add(uni, eps);
    vf64 iou = vf64_div(inter, ue);
    /* _enclosing */
    vf64 cx1 = vf64_select(vf64_lt(f[0], t[0]), f[0], t[0]);
    vf64 cy1 = vf64_select(vf64_lt(f[1], t[1]), f[1], t[1]);
    vf64 cx2 = vf64_select(vf64_gt(f[2], t[2]), f[2], t[2]);
    vf64 cy2 = vf64_select(vf64_gt(f[3], t[3]), f[3], t[3]);
    vf64 cw = vf64_sub(cx2, cx1), ch = vf64_sub(cy2, cy1);
    vf64 area_c = vf64_mul(cw, ch);
    vf64 loss = vf64_sub(one, vf64_sub(iou, vf64_div(vf64_sub(area_c, uni),
                                                     vf64_add(area_c, eps))));
    if (!g)
        return loss;
    vf64 r = vf64_div(one, ue);
    vf64 rc = vf64_div(one, vf64_add(area_c, eps));
    vf64 dU = vf64_sub(vf64_mul(vf64_mul(inter, r), r), rc);
    vf64 dC = vf64_mul(vf64_mul(ue, rc), rc);
    /* _overlap_grad(dU, dI = -r) */
    /* negations as -0 - x: the closed form's unary minus, signed zeros included */
    const vf64 nz = vf64_set1(-0.0);
    vf64 dIt = vf64_sub(vf64_sub(nz, r), dU);
    vf64 ovd = vf64_keep(ov, one);
    vf64 dIw = vf64_mul(vf64_mul(dIt, ih), ovd);
    vf64 dIh = vf64_mul(vf64_mul(dIt, iw), ovd);
    vf64 ndU = vf64_sub(nz, dU);
    vf64 g0 = vf64_mul(ndU, h1), g2 = vf64_mul(dU, h1);
    vf64 g1 = vf64_mul(ndU, w1), g3 = vf64_mul(dU, w1);
    g0 = vf64_sub(g0, vf64_mul(dIw, fl_dmax64(f[0], t[0])));
    g2 = vf64_add(g2, vf64_mul(dIw, fl_dmax64(t[2], f[2])));
    g1 = vf64_sub(g1, vf64_mul(dIh, fl_dmax64(f[1], t[1])));
    g3 = vf64_add(g3, vf64_mul(dIh, fl_dmax64(t[3], f[3])));
    /* _enclosing_grad(dcw = dC ch, dch = dC cw) */
    vf64 dcw = vf64_mul(dC, ch), dch = vf64_mul(dC, cw);
    g[0] = vf64_sub(g0, vf64_mul(dcw, fl_dmax64(t[0], f[0])));
    g[2] = vf64_add(g2, vf64_mul(dcw, fl_dmax64(f[2], t[2])));
    g[1] = vf64_sub(g1, vf64_mul(dch, fl_dmax64(t[1], f[1])));
    g[3] = vf64_add(g3, vf64_mul(dch, fl_dmax64(f[3], t[3])));
    return loss;
}

/* FL_NF64 boxes from p (F32: float data); the last block's r < FL_NF64
 * boxes through a buffer padded with the unit box (a finite loss, dropped) */
FL_INLINE void fl_boxes_ld(const void* p, ptrdiff_t i, ptrdiff_t r, int F32, vf64 c[4]) {
    if (r == FL_NF64) {
        if (F32) vf64_load_boxes_f32((const float*)p + 4 * i, c);
        else vf64_load_boxes((const double*)p + 4 * i, c);
        return;
    }
    double b[4 * FL_NF64];
    for (ptrdiff_t j = 0; j < 4 * FL_NF64; j++)
        b[j] = j < 4 * r ? (F32 ? (double)((const float*)p)[4 * i + j]
                                : ((const double*)p)[4 * i + j])
                         : (double)((j & 3) >= 2);
    vf64_load_boxes(b, c);
}
FL_INLINE void fl_boxes_st(void* p, ptrdiff_t i, ptrdiff_t r, int F32, const vf64 c[4]) {
    if (r == FL_NF64) {
        if (F32) vf64_store_boxes_f32((float*)p + 4 * i, c);
        else vf64_store_boxes((double*)p + 4 * i, c);
        return;
    }
    double b[4 * FL_NF64];
    vf64_store_boxes(b, c);
    for (ptrdiff_t j = 0; j < 4 * r; j++) {
        if (F32) ((float*)p)[4 * i + j] = (float)b[j];
        else ((double*)p)[4 * i + j] = b[j];
    }
}

/* n boxes in format fmt: returns Σ w_i l_i, writes scale w_i dl_i/dp (in
 * that format) to g and w_i l_i to rows where they are not NULL */
FL_INLINE double fl_giou_block(int F32, const void* yt, const void* yp, const double* w,
                               ptrdiff_t n, int fmt, double eps, double scale,
                               void* g, void* rows) {
    const vf64 E = vf64_set1(eps), S = vf64_set1(scale), one = vf64_set1(1.0);
    vf64 acc[2] = {vf64_zero(), vf64_zero()};
    int a = 0;
    for (ptrdiff_t i = 0; i < n; i += FL_NF64) {
        ptrdiff_t r = n - i < FL_NF64 ? n - i : FL_NF64;
        vf64 t[4], f[4], gv[4];
        fl_boxes_ld(yt, i, r, F32, t);
        fl_boxes_ld(yp, i, r, F32, f);
        fl_box_to_xyxy(fmt, t);
        fl_box_to_xyxy(fmt, f);
        vf64 W = !w ? one : r == FL_NF64 ? vf64_load(w + i) : vf64_load_part(w + i, r, 1.0);
        vf64 l = fl_giou64(t, f, E, g ? gv : NULL);
        vf64 v = vf64_mul(W, l);
        if (g) {
            vf64 s = vf64_mul(S, W);
            fl_box_from_xyxy_grad(fmt, gv);
            for (int m = 0; m < 4; m++) gv[m] = vf64_mul(s, gv[m]);
            fl_boxes_st(g, i, r, F32, gv);
        }
        if (r == FL_NF64) {
            acc[a] = vf64_add(acc[a], v);
            a ^= 1;
            if (rows) {
                if (F32) vf64_store_f32((float*)rows + i, v);
                else vf64_store((double*)rows + i, v);
            }
        } else {
            acc[a] = vf64_add(acc[a], vf64_keep(fl_first64(r), v));
            if (rows) {
                if (F32) vf64_store_f32_part((float*)rows + i, v, r);
                else vf64_store_part((double*)rows + i, v, r);
            }
        }
    }
    return vf64_hsum(vf64_add(acc[0], acc[1]));
}

static double fl_giou_f(const float* yt, const float* yp, const double* w, ptrdiff_t n,
                        int fmt, double eps, double scale, float* g, float* rows) {
    return fl_giou_block(1, yt, yp, w, n, fmt, eps, scale, g, rows);
}
static double fl_giou_d(const double* yt, const double* yp, const double* w, ptrdiff_t n,
                        int fmt, double eps, double scale, double* g, double* rows) {
    return fl_giou_block(0, yt, yp, w, n, fmt, eps, scale, g, rows);
}

#endif
