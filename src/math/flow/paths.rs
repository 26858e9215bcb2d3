//! The solve paths behind [`super::eval_field`]: the reference SVD, the fast paths (structured
//! NTK with Cholesky, conjugate gradients, the underparametrized normal equations), the Gram route
//! where `D` lost rank, and the SVD fallbacks (the wide one keeps `Q` as reflectors).

use super::{AtPoint, FieldStats, RankChoice, Workspace, CG_MAX_ITER};
use crate::error::{Error, Result};
use crate::linalg;
use crate::linalg::kernels::{self, MatRef};
use crate::linalg::wide::WideSvd;
use crate::math::fast::{Fallback, SolveInfo, SolvePath, Solver};
use crate::math::model::DENSE_LIMIT;
use nalgebra::DMatrix;

fn stats_from(ws: &Workspace, alpha: f64, speed: f64, frobenius_sq: f64) -> FieldStats {
    let gnorm = linalg::norm(&ws.grad_x);
    let scale = (1.0 - alpha) * frobenius_sq + alpha;
    let stationarity = if gnorm == 0.0 || scale == 0.0 {
        0.0
    } else {
        speed / (scale * gnorm)
    };
    FieldStats {
        cost: ws.cost,
        grad_x_norm: gnorm,
        output_speed: speed,
        stationarity,
        rank: None,
        numerical_rank: None,
    }
}

/// The reference path: dense `D`, one thin SVD, `D_r⁺∇ₓC`.
pub(super) fn eval_reference(
    alpha: f64,
    ws: &mut Workspace,
    rank_rtol: f64,
    choice: RankChoice,
    out: &mut [f64],
) -> Result<FieldStats> {
    out.fill(0.0);
    let mut rank = None;
    let mut numerical_rank = None;
    if alpha < 1.0 {
        let g = ws.grad_theta();
        for (o, gi) in out.iter_mut().zip(&g) {
            *o -= (1.0 - alpha) * gi;
        }
    }
    if alpha > 0.0 {
        let grad_x = std::mem::take(&mut ws.grad_x);
        let svd = ws.svd(rank_rtol);
        let svd = match svd {
            Ok(s) => s,
            Err(e) => {
                ws.grad_x = grad_x;
                return Err(e);
            }
        };
        let r = choice.rank(svd.rank(), svd.positive());
        rank = Some(r);
        numerical_rank = Some(svd.rank());
        let v = svd.pinv_apply_rank(&grad_x, r);
        ws.grad_x = grad_x;
        for (o, vi) in out.iter_mut().zip(&v) {
            *o -= alpha * vi;
        }
    }
    let speed = linalg::norm(&ws.apply_d(out));
    let frob = if alpha < 1.0 { ws.frobenius_sq() } else { 0.0 };
    let mut stats = stats_from(ws, alpha, speed, frob);
    stats.rank = rank;
    stats.numerical_rank = numerical_rank;
    Ok(stats)
}

/// `out = −(1−α)Dᵀ∇ₓC − α·v` from the dense `Dᵀ` (`K × QN`): a field from its `D⁺` part `v`.
fn dense_blend(dt: &DMatrix<f64>, grad_x: &[f64], alpha: f64, v: &[f64], out: &mut [f64]) {
    let (k, qn) = dt.shape();
    out.fill(0.0);
    if alpha < 1.0 {
        kernels::gemm(
            -(1.0 - alpha),
            MatRef::col_major(dt.as_slice(), k, qn, k),
            MatRef::col_major(grad_x, qn, 1, qn),
            0.0,
            out,
            k,
        );
    }
    for (o, vi) in out.iter_mut().zip(v) {
        *o -= alpha * vi;
    }
}

/// `|D v|` from the dense `Dᵀ`, through `scratch` (no allocation once sized).
fn dense_apply_norm(dt: &DMatrix<f64>, v: &[f64], scratch: &mut Vec<f64>) -> f64 {
    let (k, qn) = dt.shape();
    scratch.clear();
    scratch.resize(qn, 0.0);
    kernels::gemm(
        1.0,
        MatRef::col_major(dt.as_slice(), k, qn, k).t(),
        MatRef::col_major(v, k, 1, k),
        0.0,
        scratch,
        qn,
    );
    linalg::norm(scratch)
}

/// The homotopy's blend through the network: `out` holds `−αD⁺g` and becomes
/// `−(1−α)Dᵀg − αD⁺g` (one backprop); returns `|D·out|` (one forward-mode pass). The dense
/// paths' twin is [`dense_blend`] with [`dense_apply_norm`].
fn blend_matrix_free(at: AtPoint, alpha: f64, out: &mut [f64], scratch: &mut Vec<f64>) -> f64 {
    let (net, derivs, theta, fw, grad_x) = at;
    scratch.clear();
    scratch.resize(out.len(), 0.0);
    derivs.vjp(net, theta, fw, grad_x, scratch);
    for (o, s) in out.iter_mut().zip(scratch.iter()) {
        *o -= (1.0 - alpha) * s;
    }
    scratch.clear();
    scratch.resize(grad_x.len(), 0.0);
    derivs.jvp(net, theta, fw, out, scratch);
    linalg::norm(scratch)
}

/// The fast paths ([`Solver::Auto`], [`Solver::MatrixFree`]) with their fallbacks.
pub(super) fn eval_fast(
    alpha: f64,
    ws: &mut Workspace,
    rank_rtol: f64,
    choice: RankChoice,
    out: &mut [f64],
) -> Result<FieldStats> {
    let Workspace {
        fw,
        net,
        theta,
        grad_x,
        fast,
        fast_ready,
        scratch,
        ..
    } = ws;
    let net = net
        .as_ref()
        .ok_or_else(|| Error::State("no evaluation point yet (call forward)".into()))?;
    if !*fast_ready {
        fast.prepare(net, fw);
        *fast_ready = true;
    }
    let (k, qn) = (net.k(), grad_x.len());
    if alpha == 0.0 {
        // Standard flow: −Dᵀ∇ₓC is one backprop; ‖D‖_F² (for μ) from the signals.
        fast.derivs.vjp(net, theta, fw, grad_x, out);
        out.iter_mut().for_each(|v| *v = -*v);
        scratch.clear();
        scratch.resize(qn, 0.0);
        fast.derivs.jvp(net, theta, fw, out, scratch);
        let speed = linalg::norm(scratch);
        fast.derivs.ntk_diagonal(net, theta, fw, scratch);
        let frob: f64 = scratch.iter().sum();
        ws.info.path = SolvePath::Backprop;
        return Ok(stats_from(ws, alpha, speed, frob));
    }
    let full = k.min(qn);
    let matrix_free = ws.solver == Solver::MatrixFree || qn.saturating_mul(qn) > DENSE_LIMIT;
    if let RankChoice::Fixed(r) = choice {
        if k >= qn && !matrix_free {
            return eval_gram(alpha, ws, rank_rtol, Some(r), Fallback::RankLock, out);
        }
        return fallback(
            Fallback::RankLock,
            SolveInfo::default(),
            alpha,
            ws,
            rank_rtol,
            choice,
            out,
        );
    }
    if k >= qn {
        let solved = if matrix_free {
            fast.solve_cg(
                net,
                theta,
                fw,
                grad_x,
                crate::math::fast::CG_RTOL,
                CG_MAX_ITER,
            )
        } else {
            fast.solve_over(net, theta, fw, grad_x, rank_rtol)
        };
        let (frob, speed, info) = match solved {
            Ok((sol, info)) => {
                for (o, v) in out.iter_mut().zip(sol.v) {
                    *o = -alpha * v;
                }
                let frob = sol.frobenius_sq;
                if alpha == 1.0 {
                    (frob, linalg::norm(sol.u), info)
                } else {
                    // −(1−α)Dᵀg − αD⁺g: one more backprop, and a forward-mode pass for |D∂ₛθ|.
                    let at = (net, &mut fast.derivs, &theta[..], &*fw, &grad_x[..]);
                    (frob, blend_matrix_free(at, alpha, out, scratch), info)
                }
            }
            Err((why, _))
                if !matrix_free
                    && choice == RankChoice::Numerical
                    && matches!(
                        why,
                        Fallback::IllConditioned | Fallback::NotPositiveDefinite
                    ) =>
            {
                return eval_gram(alpha, ws, rank_rtol, None, why, out);
            }
            Err((why, info)) => return fallback(why, info, alpha, ws, rank_rtol, choice, out),
        };
        ws.info = info;
        let mut stats = stats_from(ws, alpha, speed, frob);
        if info.path == SolvePath::Cholesky {
            stats.rank = Some(full);
            stats.numerical_rank = Some(full);
        }
        return Ok(stats);
    }
    // Underparametrized: the dense D is small (K < QN) and Gauss–Newton needs its columns.
    ws.ensure_jacobian()?;
    let Workspace {
        dt,
        grad_x,
        fast,
        scratch,
        ..
    } = ws;
    let mut v = std::mem::take(scratch);
    v.clear();
    v.resize(k, 0.0);
    let solved = fast.solve_under(dt.as_slice(), k, qn, grad_x, rank_rtol, &mut v);
    match solved {
        Ok(info) => {
            dense_blend(dt, grad_x, alpha, &v, out);
            let speed = dense_apply_norm(dt, out, &mut v);
            *scratch = v;
            let frob = if alpha < 1.0 { ws.frobenius_sq() } else { 0.0 };
            ws.info = info;
            let mut stats = stats_from(ws, alpha, speed, frob);
            stats.rank = Some(full);
            stats.numerical_rank = Some(full);
            Ok(stats)
        }
        Err((why, info)) => {
            *scratch = v;
            fallback(why, info, alpha, ws, rank_rtol, choice, out)
        }
    }
}

/// The Gram route (`K ≥ QN`, the NTK fits): `D_r⁺∇ₓC` from the eigendecomposition of the
/// structured NTK, at the numerical rank or the `fixed` one; where it cannot decide (see
/// [`crate::math::gram`]) the SVD path runs, with `why` (the fast path's reason) as the fallback.
fn eval_gram(
    alpha: f64,
    ws: &mut Workspace,
    rank_rtol: f64,
    fixed: Option<usize>,
    why: Fallback,
    out: &mut [f64],
) -> Result<FieldStats> {
    let Workspace {
        fw,
        net,
        theta,
        grad_x,
        fast,
        gram,
        scratch,
        ..
    } = ws;
    let net = net
        .as_ref()
        .ok_or_else(|| Error::State("no evaluation point yet (call forward)".into()))?;
    let choice = fixed.map_or(RankChoice::Numerical, RankChoice::Fixed);
    let info = match gram.solve(&mut fast.derivs, net, theta, fw, grad_x, rank_rtol, fixed) {
        Ok(info) => info,
        Err((Fallback::GramUnresolved, _)) => {
            return fallback(why, SolveInfo::default(), alpha, ws, rank_rtol, choice, out)
        }
        Err((w, info)) => return fallback(w, info, alpha, ws, rank_rtol, choice, out),
    };
    for (o, v) in out.iter_mut().zip(&gram.v) {
        *o = -alpha * v;
    }
    let mut speed = alpha * linalg::norm(&gram.dv);
    let mut frob = 0.0;
    if alpha < 1.0 {
        let at = (net, &mut fast.derivs, &theta[..], &*fw, &grad_x[..]);
        speed = blend_matrix_free(at, alpha, out, scratch);
        frob = gram.sigma.iter().map(|s| s * s).sum();
    }
    let (r, numerical) = gram.rank;
    ws.gram_valid = true;
    ws.info = info;
    let mut stats = stats_from(ws, alpha, speed, frob);
    stats.rank = Some(r);
    stats.numerical_rank = Some(numerical);
    Ok(stats)
}

fn fallback(
    why: Fallback,
    partial: SolveInfo,
    alpha: f64,
    ws: &mut Workspace,
    rank_rtol: f64,
    choice: RankChoice,
    out: &mut [f64],
) -> Result<FieldStats> {
    ws.ensure_jacobian().map_err(|e| match e {
        Error::TooLarge(m) => Error::TooLarge(format!(
            "the fast solve could not be used ({why:?}) and the SVD fallback cannot run: {m}"
        )),
        other => other,
    })?;
    let (k, qn) = ws.dt.shape();
    let stats = if alpha > 0.0 && k >= WIDE * qn {
        eval_wide(alpha, ws, rank_rtol, choice, out)?
    } else {
        eval_reference(alpha, ws, rank_rtol, choice, out)?
    };
    ws.info = SolveInfo {
        path: SolvePath::Svd,
        fallback: Some(why),
        ..partial
    };
    Ok(stats)
}

/// A fallback solves with the output side of the SVD ([`eval_wide`]) when `K ≥ WIDE·QN`.
const WIDE: usize = 2;

/// The fallback on a wide `D` (`K ≥ 2QN`): the SVD of `D` kept in factored form
/// ([`WideSvd`]: Householder `Q`, the SVD of `R`), `D_r⁺g = Q U_{R,r} Σ_r⁻¹ V_{R,r}ᵀ g`.
///
/// The same computation as the reference path's [`JacobianSvd`] without forming its `K × QN`
/// θ-side factor. M network at init scale 1 (`4482 × 400`, numerical rank 364 < 400): see the
/// benchmark's `Mr` row.
fn eval_wide(
    alpha: f64,
    ws: &mut Workspace,
    rank_rtol: f64,
    choice: RankChoice,
    out: &mut [f64],
) -> Result<FieldStats> {
    let mut svd = ws.wide.take().unwrap_or_else(WideSvd::empty);
    if let Err(e) = svd.refactor(&ws.dt, rank_rtol) {
        ws.wide = Some(svd);
        return Err(e);
    }
    let r = choice.rank(svd.rank(), svd.positive());
    let v = svd.pinv_apply_rank(&ws.grad_x, r);
    dense_blend(&ws.dt, &ws.grad_x, alpha, &v, out);
    let mut scratch = std::mem::take(&mut ws.scratch);
    let speed = dense_apply_norm(&ws.dt, out, &mut scratch);
    ws.scratch = scratch;
    let frob = if alpha < 1.0 {
        svd.sigma.iter().map(|s| s * s).sum()
    } else {
        0.0
    };
    let numerical = svd.rank();
    ws.wide = Some(svd);
    ws.wide_valid = true;
    let mut stats = stats_from(ws, alpha, speed, frob);
    stats.rank = Some(r);
    stats.numerical_rank = Some(numerical);
    Ok(stats)
}
