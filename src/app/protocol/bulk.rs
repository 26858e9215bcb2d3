//! The bulk numbers beside the messages: one flat `Float64Array` per message whose layout its
//! header describes. Each encoder has its decoder here: a run's data, a frame's lanes (outputs,
//! samples, trail points) and heatmap grid, a homotopy family's trails.

use super::{
    FamilyHeader, FrameHeader, HeatHeader, ModesHeader, NetworkHeader, RunInfo, TrailPoints,
};
use crate::error::{Error, Result};
use crate::math::diagnostics::Sample;

/// The data a [`RunInfo`]'s bulk carries.
#[derive(Debug, Clone, PartialEq)]
pub struct RunData {
    /// Inputs, one `Vec` of length `M` per sample.
    pub inputs: Vec<Vec<f64>>,
    /// Targets `y_c`, one `Vec` of length `Q` per class.
    pub targets: Vec<Vec<f64>>,
    /// Outputs `x̲(0)` at `θ₀` (shared by every lane), sample-major.
    pub outputs0: Vec<f64>,
}

impl RunInfo {
    /// Reads the data from the bulk that came with this header.
    ///
    /// Errors: a bulk of the wrong length (`bulk`).
    pub fn decode(&self, bulk: &[f64]) -> Result<RunData> {
        let want = self.n * self.m + self.classes * self.q + self.qn;
        if bulk.len() != want {
            return Err(Error::invalid(
                "bulk",
                format!(
                    "expected {want} numbers (N·M + C·Q + QN = {}·{} + {}·{} + {}), got {}",
                    self.n,
                    self.m,
                    self.classes,
                    self.q,
                    self.qn,
                    bulk.len()
                ),
            ));
        }
        let (x, rest) = bulk.split_at(self.n * self.m);
        let (y, x0) = rest.split_at(self.classes * self.q);
        Ok(RunData {
            inputs: x.chunks(self.m).map(<[f64]>::to_vec).collect(),
            targets: y.chunks(self.q).map(<[f64]>::to_vec).collect(),
            outputs0: x0.to_vec(),
        })
    }
}

/// A decoded lane of a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct LaneUpdate {
    /// Current outputs `x̲(s)`.
    pub outputs: Vec<f64>,
    /// New samples.
    /// New samples: the scalars, the class statistics (NaN-padded to `classes`) and the
    /// [`RunInfo::sv`] smallest singular values; no `θ` or outputs.
    pub samples: Vec<Sample>,
    /// New trail points: `s` and the outputs of the trail samples (`Q` each, in
    /// [`RunInfo::trail`] order).
    pub trail: Vec<(f64, Vec<f64>)>,
}

/// A decoded heatmap grid.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatGrid {
    /// Where it lies.
    pub header: HeatHeader,
    /// `size²·Q` outputs, row by row from `y_lo` up.
    pub values: Vec<f64>,
}

/// A frame's bulk, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameData {
    /// One per lane.
    pub lanes: Vec<LaneUpdate>,
    /// The heatmap grid, if any.
    pub heat: Option<HeatGrid>,
    /// The network diagram, if any.
    pub network: Option<NetDiagram>,
}

/// A decoded network diagram.
#[derive(Debug, Clone, PartialEq)]
pub struct NetDiagram {
    /// What is drawn.
    pub header: NetworkHeader,
    /// Per layer `l = 1..=L+1` (index `l − 1`), the drawn weights: one row per drawn unit of
    /// layer `l`, one entry per drawn unit of layer `l − 1`.
    pub weights: Vec<Vec<Vec<f64>>>,
    /// Per drawn unit (in `header.units` order), its `grid²` activations (empty without grid).
    pub heat: Vec<Vec<f64>>,
}

impl NetworkHeader {
    /// Reads the diagram's part of a bulk.
    ///
    /// Errors: an inconsistent header (see [`NetworkHeader::check`]) or too few numbers
    /// (`bulk`).
    pub fn decode(&self, bulk: &[f64]) -> Result<NetDiagram> {
        self.check()?;
        if bulk.len() != self.bulk_len() {
            return Err(Error::invalid(
                "bulk",
                format!(
                    "expected {} numbers for the network diagram, got {}",
                    self.bulk_len(),
                    bulk.len()
                ),
            ));
        }
        let mut at = 0;
        let weights = self
            .shown
            .windows(2)
            .map(|w| {
                (0..w[1].len())
                    .map(|_| {
                        let row = bulk[at..at + w[0].len()].to_vec();
                        at += w[0].len();
                        row
                    })
                    .collect()
            })
            .collect();
        let g2 = self.grid * self.grid;
        let heat = self
            .units
            .iter()
            .map(|_| {
                let v = bulk[at..at + g2].to_vec();
                at += g2;
                v
            })
            .collect();
        Ok(NetDiagram {
            header: self.clone(),
            weights,
            heat,
        })
    }
}

/// A point of the moving basis: the error in the eigenvectors of the NTK at `θ(s)`.
#[derive(Debug, Clone, PartialEq)]
pub struct MovingPoint {
    /// Flow time.
    pub s: f64,
    /// `|x̲ − y̲|`.
    pub e_norm: f64,
    /// `‖K(s) − K₀‖_F / ‖K₀‖_F`.
    pub drift: f64,
    /// `⟨u_i(s), x̲(s) − y̲⟩` of the shown modes.
    pub a: Vec<f64>,
}

/// The bulk of a `modes` message, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct ModesData {
    /// Per lane, the new fixed-basis points `(s, a_i(s))`.
    pub points: Vec<TrailPoints>,
    /// The new moving-basis points.
    pub moving: Vec<MovingPoint>,
}

impl ModesHeader {
    /// Reads the points of the bulk (see [`ModesHeader`]).
    ///
    /// Errors: a bulk of the wrong length (`bulk`).
    pub fn decode(&self, bulk: &[f64]) -> Result<ModesData> {
        let m = self.modes.len();
        let want = self.new_points.iter().sum::<usize>() * (1 + m) + self.new_moving * (3 + m);
        if bulk.len() != want {
            return Err(Error::invalid(
                "bulk",
                format!(
                    "expected {want} numbers for the eigenmodes, got {}",
                    bulk.len()
                ),
            ));
        }
        let mut at = 0;
        let points = self
            .new_points
            .iter()
            .map(|&k| {
                (0..k)
                    .map(|_| {
                        let p = (bulk[at], bulk[at + 1..at + 1 + m].to_vec());
                        at += 1 + m;
                        p
                    })
                    .collect()
            })
            .collect();
        let moving = (0..self.new_moving)
            .map(|_| {
                let p = MovingPoint {
                    s: bulk[at],
                    e_norm: bulk[at + 1],
                    drift: bulk[at + 2],
                    a: bulk[at + 3..at + 3 + m].to_vec(),
                };
                at += 3 + m;
                p
            })
            .collect();
        Ok(ModesData { points, moving })
    }
}

/// A number of a sample's bulk encoding.
trait Scalar {
    fn to_f64(&self) -> f64;
    fn from_f64(v: f64) -> Self;
}

impl Scalar for f64 {
    fn to_f64(&self) -> f64 {
        *self
    }
    fn from_f64(v: f64) -> Self {
        v
    }
}

impl Scalar for Option<usize> {
    fn to_f64(&self) -> f64 {
        self.map_or(f64::NAN, |v| v as f64)
    }
    fn from_f64(v: f64) -> Self {
        v.is_finite().then_some(v as usize)
    }
}

impl Scalar for Option<f64> {
    fn to_f64(&self) -> f64 {
        self.unwrap_or(f64::NAN)
    }
    fn from_f64(v: f64) -> Self {
        (!v.is_nan()).then_some(v)
    }
}

impl Scalar for usize {
    fn to_f64(&self) -> f64 {
        *self as f64
    }
    fn from_f64(v: f64) -> Self {
        v as usize
    }
}

/// The scalar fields of [`Sample`] that head its bulk encoding, in order: [`SAMPLE_SCALARS`],
/// the encoder and the decoder all come from this one list.
macro_rules! sample_scalars {
    ($($field:ident),* $(,)?) => {
        /// The scalar fields of a [`Sample`] at the head of its encoding (see [`encode_sample`]).
        pub const SAMPLE_SCALARS: &[&str] = &[$(stringify!($field)),*];

        fn encode_scalars(smp: &Sample, out: &mut Vec<f64>) {
            out.extend_from_slice(&[$(smp.$field.to_f64()),*]);
        }

        /// Reads the scalars from `v`, which holds [`SAMPLE_SCALARS`]`.len()` numbers.
        fn decode_scalars(v: &[f64], smp: &mut Sample) {
            let mut i = 0;
            $(
                smp.$field = Scalar::from_f64(v[i]);
                i += 1;
            )*
            debug_assert_eq!(i, v.len());
        }
    };
}

sample_scalars!(
    s,
    cost,
    rank,
    rank_used,
    sigma_max,
    sigma_min,
    lambda_min,
    rho,
    grad_x_norm,
    proj_grad_norm,
    perp_cost,
    cost_variance,
    cost_mismatch,
    spectrum_s,
);

/// Numbers one encoded sample takes with `classes` classes and `sv` singular values.
pub fn sample_len(classes: usize, sv: usize) -> usize {
    SAMPLE_SCALARS.len() + 2 * classes + sv
}

/// Appends a sample: the [`SAMPLE_SCALARS`], then the spreads and the mean distances (padded
/// with NaN to `classes` each, so that every sample has the same length), then the last `sv`
/// singular values (the smallest; NaN when the sample has none). `θ` and the outputs stay out.
pub fn encode_sample(smp: &Sample, classes: usize, sv: usize, out: &mut Vec<f64>) {
    encode_scalars(smp, out);
    let pad = |v: &[f64], len: usize, out: &mut Vec<f64>| {
        out.extend(
            v.iter()
                .copied()
                .chain(std::iter::repeat(f64::NAN))
                .take(len),
        );
    };
    pad(&smp.class_spread, classes, out);
    pad(&smp.class_mean_distance, classes, out);
    let sigma = smp.singular_values.as_deref().unwrap_or(&[]);
    pad(&sigma[sigma.len().saturating_sub(sv)..], sv, out);
}

/// Reads one sample of [`sample_len`]`(classes, sv)` numbers written by [`encode_sample`].
pub fn decode_sample(v: &[f64], classes: usize) -> Sample {
    let (head, rest) = v.split_at(SAMPLE_SCALARS.len());
    let (spread, rest) = rest.split_at(classes);
    let (dist, sigma) = rest.split_at(classes);
    let mut smp = Sample {
        class_spread: spread.to_vec(),
        class_mean_distance: dist.to_vec(),
        singular_values: Some(sigma.to_vec()),
        ..Sample::default()
    };
    decode_scalars(head, &mut smp);
    smp
}

impl FrameHeader {
    /// Reads the bulk that came with this header, given the run it belongs to.
    ///
    /// Errors: a lane count or bulk length that does not match (`frame.lanes`, `bulk`).
    pub fn decode(&self, info: &RunInfo, bulk: &[f64]) -> Result<FrameData> {
        if self.lanes.len() != info.lanes.len() {
            return Err(Error::invalid(
                "frame.lanes",
                format!(
                    "{} lanes in the frame, {} in the run",
                    self.lanes.len(),
                    info.lanes.len()
                ),
            ));
        }
        let per = sample_len(info.classes, info.sv);
        let per_trail = 1 + info.trail.len() * info.q;
        let heat_len = self.heat.as_ref().map_or(0, |h| h.size * h.size * info.q);
        let net_len = self.network.as_ref().map_or(0, NetworkHeader::bulk_len);
        let want: usize = self
            .lanes
            .iter()
            .map(|l| info.qn + l.new_samples * per + l.new_trail * per_trail)
            .sum::<usize>()
            + heat_len
            + net_len;
        if bulk.len() != want {
            return Err(Error::invalid(
                "bulk",
                format!("expected {want} numbers for this frame, got {}", bulk.len()),
            ));
        }
        let mut at = 0;
        let mut lanes = Vec::with_capacity(self.lanes.len());
        for l in &self.lanes {
            let outputs = bulk[at..at + info.qn].to_vec();
            at += info.qn;
            let samples = (0..l.new_samples)
                .map(|_| {
                    let smp = decode_sample(&bulk[at..at + per], info.classes);
                    at += per;
                    smp
                })
                .collect();
            let trail = (0..l.new_trail)
                .map(|_| {
                    let p = (bulk[at], bulk[at + 1..at + per_trail].to_vec());
                    at += per_trail;
                    p
                })
                .collect();
            lanes.push(LaneUpdate {
                outputs,
                samples,
                trail,
            });
        }
        let heat = self.heat.as_ref().map(|h| HeatGrid {
            header: h.clone(),
            values: bulk[at..at + heat_len].to_vec(),
        });
        at += heat_len;
        let network = match &self.network {
            Some(h) => Some(h.decode(&bulk[at..])?),
            None => None,
        };
        Ok(FrameData {
            lanes,
            heat,
            network,
        })
    }
}

impl FamilyHeader {
    /// Reads the trail points of the bulk: per member, `(s, outputs of the samples)`.
    ///
    /// Errors: a bulk of the wrong length (`bulk`).
    pub fn decode(&self, q: usize, bulk: &[f64]) -> Result<Vec<TrailPoints>> {
        let per = 1 + self.samples.len() * q;
        let want: usize = self.members.iter().map(|m| m.new_trail * per).sum();
        if bulk.len() != want {
            return Err(Error::invalid(
                "bulk",
                format!("expected {want} numbers for the family, got {}", bulk.len()),
            ));
        }
        let mut at = 0;
        Ok(self
            .members
            .iter()
            .map(|m| {
                (0..m.new_trail)
                    .map(|_| {
                        let p = (bulk[at], bulk[at + 1..at + per].to_vec());
                        at += per;
                        p
                    })
                    .collect()
            })
            .collect())
    }
}
