//! The flow's vector field bound to its model: the rank policy at accepted points, the frozen
//! activation pattern of piecewise-linear nets, and the integrator's view of it ([`System`]).

use super::*;

/// The flow's vector field bound to its model, as an integrable [`System`].
#[derive(Debug, Clone)]
pub struct FlowField {
    /// Network and data.
    pub model: Model,
    /// Which flow.
    pub spec: FlowSpec,
    /// Rank tolerance of the `D⁺` solve.
    pub rank_rtol: f64,
    ws: Workspace,
    last: FieldStats,
    policy: RankPolicy,
    update: Option<(RankUpdate, Option<(UnitRef, f64)>)>,
    counts: PathCounts,
}

impl FlowField {
    /// Binds `spec` to `model`.
    pub fn new(model: Model, spec: FlowSpec, rank_rtol: f64) -> Self {
        FlowField {
            model,
            spec,
            rank_rtol,
            ws: Workspace::default(),
            last: FieldStats::default(),
            policy: RankPolicy::default(),
            update: None,
            counts: PathCounts::default(),
        }
    }

    /// What the most recent evaluation saw. Every integrator's last evaluation in an accepted step
    /// is at the step's end point, so after a step this describes the current state.
    pub fn last_stats(&self) -> FieldStats {
        self.last
    }

    /// Binds `spec` to `model`, evaluating the `D⁺` part with `solver`.
    pub fn with_solver(model: Model, spec: FlowSpec, rank_rtol: f64, solver: Solver) -> Self {
        let mut f = FlowField::new(model, spec, rank_rtol);
        f.ws.set_solver(solver);
        f
    }

    /// For a piecewise-linear activation: freezes the activation pattern of the point `y` (the
    /// signs of its pre-activations) for the next step, so that the field is smooth over the
    /// whole step. Returns whether the pattern changed (the field at `y` must then be evaluated
    /// again, see [`Stepper::refresh`]).
    pub fn repattern(&mut self, y: &[f64]) -> bool {
        if !self.model.net.activation().is_piecewise_linear() {
            return false;
        }
        let mut fw = crate::math::net::Forward::default();
        self.model
            .net
            .forward_into(y, &self.model.data.inputs, &mut fw);
        let p = fw.sign_pattern();
        if self.ws.pattern() == Some(&p) {
            return false;
        }
        self.ws.set_pattern(Some(p));
        true
    }

    /// Decides the rank at an accepted state (the most recent evaluation must be there); the
    /// change, if any, is kept for [`Self::take_update`].
    ///
    /// Only an SVD computed by that evaluation (thin, or factored for a wide `D`), or the Gram
    /// route's spectrum where it resolves
    /// the policy's band ([`crate::math::gram`]), feeds the decision. A fast solve runs only while
    /// the field uses every singular value, after certifying `σ_min/σ_max` above the band with a
    /// condition estimate (see [`crate::math::fast`]): the rank stays full then.
    pub fn accept(&mut self) {
        self.update = None;
        if !self.spec.needs_svd() {
            return;
        }
        let net = &self.model.net;
        if let Some(svd) = self.ws.computed_svd() {
            let ug = svd.output_coordinates(self.ws.grad_x());
            self.update = decide(
                &mut self.policy,
                net,
                self.rank_rtol,
                &svd.sigma,
                &ug,
                |i| Some(svd.theta_vectors().column(i).iter().copied().collect()),
            );
        } else if let Some(svd) = self.ws.wide_svd() {
            let ug = svd.output_coordinates(self.ws.grad_x());
            self.update = decide(
                &mut self.policy,
                net,
                self.rank_rtol,
                &svd.sigma,
                &ug,
                |i| svd.theta_vector(i),
            );
        } else if let Some((sigma, ug)) = self.ws.gram_spectrum() {
            // The Gram route decided only where its σ and u_iᵀ∇ₓC resolve the policy's band (see
            // math::gram); a singular drop's dominant unit comes from the θ-side singular vector,
            // which only the SVD gives: computed then, once.
            let (sigma, ug) = (sigma.to_vec(), ug.to_vec());
            let (ws, rtol) = (&mut self.ws, self.rank_rtol);
            self.update = decide(&mut self.policy, net, rtol, &sigma, &ug, |i| {
                ws.ensure_jacobian().ok()?;
                let svd = ws.svd(rtol).ok()?;
                Some(svd.theta_vectors().column(i).iter().copied().collect())
            });
        } else if self.last.rank.is_some() {
            let full = self.model.k().min(self.model.qn());
            if let Some(prev) = self.policy.certify_full() {
                self.update = Some((
                    RankUpdate {
                        previous: prev,
                        used: full,
                        numerical: full,
                        reason: RankReason::Recovered,
                        band: vec![],
                        singular: None,
                        stalled: false,
                    },
                    None,
                ));
            }
        }
    }

    /// After a stall (see [`RankPolicy::crawl`]): the SVD at the current point decides whether a
    /// small singular value carrying most of the field is the cause; returns the drop with the
    /// unit that dominates its singular vector.
    pub fn crawl(&mut self) -> Option<(RankUpdate, Option<(UnitRef, f64)>)> {
        if !self.spec.needs_svd() || self.ws.ensure_jacobian().is_err() {
            return None;
        }
        let g = self.ws.grad_x().to_vec();
        let svd = self.ws.svd(self.rank_rtol).ok()?;
        let ug = svd.output_coordinates(&g);
        let u = self.policy.crawl(&svd.sigma, &ug, self.rank_rtol)?;
        let unit = u.singular.and_then(|(i, _, _)| {
            let v: Vec<f64> = svd.theta_vectors().column(i).iter().copied().collect();
            crate::math::units::dominant(&self.model.net, &v)
        });
        Some((u, unit))
    }

    /// The rank change decided by the last [`Self::accept`], with the unit that dominates a
    /// dropped singular vector, taken (a second call returns `None`).
    pub fn take_update(&mut self) -> Option<(RankUpdate, Option<(UnitRef, f64)>)> {
        self.update.take()
    }

    /// The rank the field uses for the current step; `None` for flows without rank decisions
    /// (standard, gradient descent) or before the first accepted point.
    pub fn rank_used(&self) -> Option<usize> {
        (self.spec.needs_svd() && self.policy.started()).then(|| {
            self.policy
                .cap()
                .unwrap_or(self.model.k().min(self.model.qn()))
        })
    }

    /// Which solve paths the evaluations so far took (and how often they fell back to the SVD).
    pub fn path_counts(&self) -> PathCounts {
        self.counts
    }

    /// The rank policy (hysteresis of rank decisions along the orbit).
    pub fn rank_policy(&self) -> RankPolicy {
        self.policy
    }

    /// Forgets the rank history (after an imposed jump of `θ`).
    pub fn reset_rank_policy(&mut self) {
        self.policy.reset();
    }

    /// The workspace of the most recent evaluation.
    pub fn workspace(&mut self) -> &mut Workspace {
        &mut self.ws
    }
}

/// The policy's decision on `σ` and `u_iᵀ∇ₓC`, with the unit that dominates a dropped singular
/// vector (`theta_vector(i)`: the right singular vector of `σ_i`).
fn decide(
    policy: &mut RankPolicy,
    net: &crate::math::net::Mlp,
    rank_rtol: f64,
    sigma: &[f64],
    ug: &[f64],
    theta_vector: impl FnOnce(usize) -> Option<Vec<f64>>,
) -> Option<(RankUpdate, Option<(UnitRef, f64)>)> {
    let u = policy.update(sigma, ug, rank_rtol)?;
    let unit = u
        .singular
        .and_then(|(i, _, _)| crate::math::units::dominant(net, &theta_vector(i)?));
    Some((u, unit))
}

impl System for FlowField {
    fn dim(&self) -> usize {
        self.model.k()
    }

    fn eval(&mut self, y: &[f64], dy: &mut [f64]) -> Result<()> {
        // The Jacobian is formed inside the field evaluation only if its path needs it.
        self.ws.forward(&self.model, y)?;
        let choice = if !self.policy.started() {
            RankChoice::Numerical
        } else {
            self.policy.cap().map_or(RankChoice::All, RankChoice::Fixed)
        };
        let stats = eval_field_capped(&self.spec, &mut self.ws, self.rank_rtol, choice, dy);
        self.counts.record(&self.ws.solve_info());
        self.last = stats?;
        Ok(())
    }
}
