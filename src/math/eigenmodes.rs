//! The eigenmodes of the NTK `DDᵀ` and the output error `e = x̲ − y̲` decomposed along them
//! (docs/math/eigenmodes.md).
//!
//! `DDᵀ` is symmetric positive semidefinite; its eigenvectors `u_i` (eigenvalues `λ_i = σ_i²`,
//! completed by an orthonormal basis of `ker Dᵀ` with `λ = 0`) are an orthonormal basis of
//! `R^{QN}`, so `e = Σ a_i u_i` with `a_i = ⟨u_i, e⟩`. What the coefficients do over `s`:
//!
//! - adapted flow, `rank D = QN` along the orbit: `e(s) = e^{−s/N} e(0)` (2.7), so in any fixed
//!   basis `a_i(s) = e^{−s/N} a_i(0)` **exactly**, whatever `λ_i`;
//! - standard flow: `∂ₛe = −(1/N) K(s) e` with `K(s)` moving; only the network linearized at `θ₀`
//!   (`K ≡ K₀`) gives `a_i(s) = e^{−λ_i⁰ s/N} a_i(0)` — a prediction, not a statement about the
//!   flow ([`linearized_factor`] gives it for each flow of the page);
//! - in the moving basis `u_i(s)` only `Σ a_i² = |e|²` keeps a closed form.
//!
//! The NTK comes from the structured assembly of [`crate::math::ntk`] (no dense `D`), its
//! eigenvectors from nalgebra's symmetric eigensolver.

use crate::error::{Error, Result};
use crate::linalg;
use crate::math::model::Model;
use crate::math::net::Forward;
use crate::math::ntk::Derivs;
use nalgebra::{DMatrix, SymmetricEigen};

/// Modes shown at each end of the spectrum: the 16 largest and the 16 smallest eigenvalues, or
/// every mode when `QN ≤ 32`.
pub const MODES_PER_END: usize = 16;

/// The eigen-decomposition of `DDᵀ` at one `θ`.
#[derive(Debug, Clone)]
pub struct NtkModes {
    /// Eigenvalues `λ_1 ≥ … ≥ λ_QN`, rounding below zero clamped to 0.
    pub lambdas: Vec<f64>,
    /// Eigenvectors as columns, in the order of [`Self::lambdas`] (`QN × QN`).
    pub vectors: DMatrix<f64>,
    /// The NTK itself (`QN × QN`, symmetric), kept for the kernel drift.
    pub ntk: DMatrix<f64>,
    /// Outputs `x̲[θ]`, sample-major.
    pub outputs: Vec<f64>,
}

impl NtkModes {
    /// Decomposes `DDᵀ` at `theta`.
    ///
    /// Errors: a wrong `θ` (length, non-finite: `theta`), non-finite outputs, or
    /// [`Error::TooLarge`] when `QN² > `[`crate::math::model::DENSE_LIMIT`].
    pub fn at(model: &Model, theta: &[f64]) -> Result<NtkModes> {
        model.net.check_theta(theta, "theta")?;
        let qn = model.qn();
        if qn.saturating_mul(qn) > crate::math::model::DENSE_LIMIT {
            return Err(Error::TooLarge(format!(
                "the NTK would be QN × QN = {qn} × {qn} entries, more than {}",
                crate::math::model::DENSE_LIMIT
            )));
        }
        let mut fw = Forward::default();
        model.net.forward_into(theta, &model.data.inputs, &mut fw);
        let outputs = fw.outputs().as_slice().to_vec();
        if let Some(i) = outputs.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite(format!(
                "network output {i} is {}",
                outputs[i]
            )));
        }
        let mut d = Derivs::default();
        d.prepare(&model.net, &fw);
        let mut lower = Vec::new();
        d.ntk_lower(&model.net, theta, &fw, &mut lower);
        let mut ntk = DMatrix::from_vec(qn, qn, lower);
        for j in 0..qn {
            for i in 0..j {
                ntk[(i, j)] = ntk[(j, i)];
            }
        }
        let eig = SymmetricEigen::new(ntk.clone());
        let mut order: Vec<usize> = (0..qn).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        let lambdas = order.iter().map(|&i| eig.eigenvalues[i].max(0.0)).collect();
        let vectors = DMatrix::from_fn(qn, qn, |r, c| eig.eigenvectors[(r, order[c])]);
        Ok(NtkModes {
            lambdas,
            vectors,
            ntk,
            outputs,
        })
    }

    /// `a_i = ⟨u_i, e⟩` for each mode index `i` of `modes` (positions in [`Self::lambdas`]).
    pub fn project(&self, modes: &[usize], e: &[f64]) -> Vec<f64> {
        modes
            .iter()
            .map(|&i| linalg::dot(self.vectors.column(i).as_slice(), e))
            .collect()
    }

    /// Numerical rank of `D`: the `σ_i = √λ_i` above `rtol·σ_max` (see [`linalg::numerical_rank`]).
    pub fn rank(&self, rtol: f64) -> usize {
        let sigma: Vec<f64> = self.lambdas.iter().map(|l| l.sqrt()).collect();
        linalg::numerical_rank(&sigma, rtol)
    }

    /// `‖K − K₀‖_F / ‖K₀‖_F`: how far this kernel has moved from `k0` (0 when `K₀ = 0`).
    pub fn drift_from(&self, k0: &DMatrix<f64>) -> f64 {
        let den = k0.norm();
        if den > 0.0 {
            (&self.ntk - k0).norm() / den
        } else {
            0.0
        }
    }
}

/// The modes shown out of `qn`: every one when `qn ≤ 2·`[`MODES_PER_END`], else the
/// [`MODES_PER_END`] largest and the [`MODES_PER_END`] smallest eigenvalues (indices into the
/// descending order).
pub fn chosen_modes(qn: usize) -> Vec<usize> {
    if qn <= 2 * MODES_PER_END {
        (0..qn).collect()
    } else {
        (0..MODES_PER_END).chain(qn - MODES_PER_END..qn).collect()
    }
}

/// Which flow a linearized prediction is for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Linearized {
    /// `∂ₛθ = −Dᵀ∇ₓC`: `a_i(s) = e^{−λ_i s/N} a_i(0)`.
    Standard,
    /// Euler steps of the standard field with step `h`: `a_i(kh) = (1 − hλ_i/N)^k a_i(0)`.
    Gd {
        /// The learning rate.
        h: f64,
    },
    /// `−(1−α)Dᵀ∇ₓC − αD⁺∇ₓC` with `rank D₀ = QN`: `a_i(s) = e^{−((1−α)λ_i + α) s/N} a_i(0)`.
    Homotopy {
        /// The blend.
        alpha: f64,
    },
}

/// `a_i(s)/a_i(0)` of the network linearized at `θ₀` (`D ≡ D₀`, so `K ≡ K₀` and, at full rank,
/// `𝒫 ≡ 1`) for a mode of eigenvalue `lambda`, `N` samples: the prediction the figure draws
/// dashed. It is exact only for a network linear in `θ`; for any other it is what lazy training
/// would give (docs/math/eigenmodes.md).
pub fn linearized_factor(flow: Linearized, lambda: f64, n: usize, s: f64) -> f64 {
    let n = n as f64;
    match flow {
        Linearized::Standard => (-lambda * s / n).exp(),
        Linearized::Gd { h } => {
            // Steps taken by s; between steps the run holds the last one.
            let k = (s / h + 1e-9).floor();
            (1.0 - h * lambda / n).powf(k)
        }
        Linearized::Homotopy { alpha } => (-((1.0 - alpha) * lambda + alpha) * s / n).exp(),
    }
}

/// The least-squares slope of `ln|a|` against `s` over the points with `a ≠ 0` (`None` with
/// fewer than two such points or no spread in `s`).
pub fn log_slope(points: &[(f64, f64)]) -> Option<f64> {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p.1 != 0.0 && p.1.is_finite() && p.0.is_finite())
        .map(|&(s, a)| (s, a.abs().ln()))
        .collect();
    if pts.len() < 2 {
        return None;
    }
    let n = pts.len() as f64;
    let (ms, ml) = pts
        .iter()
        .fold((0.0, 0.0), |(a, b), p| (a + p.0 / n, b + p.1 / n));
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (s, l) in &pts {
        sxy += (s - ms) * (l - ml);
        sxx += (s - ms) * (s - ms);
    }
    (sxx > 0.0).then(|| sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::data::{DataSpec, Dataset};
    use crate::math::net::{Activation, Mlp};
    use crate::rng::Rng;

    fn model(widths: &[usize], act: Activation) -> (Model, Vec<f64>) {
        let data = Dataset::from_spec(&DataSpec::Moons { n: 6, noise: 0.1 }, 3).unwrap();
        let net = Mlp::new(widths, act).unwrap();
        let mut rng = Rng::new(5);
        let theta: Vec<f64> = (0..net.k()).map(|_| rng.normal()).collect();
        (Model::new(net, data).unwrap(), theta)
    }

    #[test]
    fn the_modes_diagonalize_the_dense_ntk() {
        let (m, theta) = model(&[2, 5, 2], Activation::Tanh);
        let modes = NtkModes::at(&m, &theta).unwrap();
        let mut ws = crate::math::flow::Workspace::default();
        ws.evaluate(&m, &theta).unwrap();
        let dense = ws.dt().transpose() * ws.dt();
        let scale = dense.norm();
        // Backward stable eigensolver: ‖K U − U Λ‖ ≤ c·QN·ε·‖K‖; c·QN ≤ 1e3 here.
        let lam = DMatrix::from_diagonal(&nalgebra::DVector::from_vec(modes.lambdas.clone()));
        let resid = (&dense * &modes.vectors - &modes.vectors * lam).norm();
        assert!(resid <= 1e3 * f64::EPSILON * scale, "{resid} vs {scale}");
        let ortho =
            (modes.vectors.transpose() * &modes.vectors - DMatrix::identity(m.qn(), m.qn())).norm();
        assert!(ortho <= 1e3 * f64::EPSILON, "{ortho}");
        assert!(modes.lambdas.windows(2).all(|w| w[0] >= w[1]));
        // K = 17 > QN = 12 and a generic θ: full rank.
        assert_eq!(modes.rank(1e-10), m.qn());
    }

    #[test]
    fn chosen_modes_take_both_ends() {
        assert_eq!(chosen_modes(5), vec![0, 1, 2, 3, 4]);
        let c = chosen_modes(100);
        assert_eq!(c.len(), 32);
        assert_eq!(c[15], 15);
        assert_eq!(c[16], 84);
        assert_eq!(c[31], 99);
    }

    #[test]
    fn log_slope_of_an_exponential_is_its_rate() {
        let pts: Vec<(f64, f64)> = (0..20)
            .map(|i| (i as f64, -3.0 * (-0.25 * i as f64).exp()))
            .collect();
        assert!((log_slope(&pts).unwrap() + 0.25).abs() < 1e-14);
        assert_eq!(log_slope(&pts[..1]), None);
    }

    #[test]
    fn linearized_factors_match_their_closed_forms() {
        assert!(
            (linearized_factor(Linearized::Standard, 2.0, 4, 3.0) - (-1.5f64).exp()).abs() < 1e-15
        );
        // Gradient descent: 10 steps of h = 0.1 at λ/N = 0.5.
        let g = linearized_factor(Linearized::Gd { h: 0.1 }, 2.0, 4, 1.0);
        assert!((g - 0.95f64.powi(10)).abs() < 1e-15);
        let a = linearized_factor(Linearized::Homotopy { alpha: 1.0 }, 9.0, 4, 4.0);
        assert!((a - (-1.0f64).exp()).abs() < 1e-15);
    }
}
