//! Toy datasets from a seeded PRNG, custom points, targets `y_1..y_C` and the label map `ω`.
//!
//! A dataset has `N` inputs in `R^M`, a label `ω(j) ∈ 0..C` per input (0-based in JSON, the
//! paper counts from 1) and `C` targets in `R^Q`. For the classification sets `C = Q` and the
//! targets default to one-hot, as in the paper; the regression set `sin` gives each sample its
//! own target (`C = N`, `Q = 1`).

use crate::error::{finite, non_negative, positive, Error, Result};
use crate::rng::Rng;
use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// Largest `N` a generated dataset may have (the dense Jacobian has `Q·N` rows).
pub const MAX_POINTS: usize = 100_000;

/// How a scenario describes its data: explicit points, or a named generator with parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "snake_case", deny_unknown_fields)]
pub enum DataSpec {
    /// Explicit inputs, labels and (optionally) targets; targets default to one-hot.
    Custom {
        /// `N` inputs, each of length `M`.
        inputs: Vec<Vec<f64>>,
        /// `N` labels in `0..C`.
        labels: Vec<usize>,
        /// `C` targets, each of length `Q`; one-hot in `R^C` when omitted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        targets: Option<Vec<Vec<f64>>>,
    },
    /// Two interleaved spirals in the plane (`Q = 2`).
    Spirals {
        /// Number of points `N`.
        n: usize,
        /// Standard deviation of Gaussian noise added to each point.
        #[serde(default = "default_noise")]
        noise: f64,
    },
    /// Two concentric circles (`Q = 2`), inner radius `factor`.
    Circles {
        /// Number of points `N`.
        n: usize,
        /// Standard deviation of Gaussian noise.
        #[serde(default = "default_noise")]
        noise: f64,
        /// Inner radius relative to the outer one (in `(0, 1)`).
        #[serde(default = "default_factor")]
        factor: f64,
    },
    /// XOR: label by the sign of `x₁x₂` on the square `[-1, 1]²` (`Q = 2`).
    Xor {
        /// Number of points `N`.
        n: usize,
        /// Standard deviation of Gaussian noise.
        #[serde(default = "default_noise")]
        noise: f64,
    },
    /// Gaussian blobs around `classes` centres on the unit circle.
    Blobs {
        /// Number of points `N`.
        n: usize,
        /// Number of classes `Q`.
        #[serde(default = "default_classes")]
        classes: usize,
        /// Standard deviation of each blob.
        #[serde(default = "default_blob_noise")]
        noise: f64,
    },
    /// Two interleaving half circles (`Q = 2`).
    Moons {
        /// Number of points `N`.
        n: usize,
        /// Standard deviation of Gaussian noise.
        #[serde(default = "default_noise")]
        noise: f64,
    },
    /// `classes` Gaussian clusters in `R^dim`, centres spread on the sphere of radius
    /// `separation/2` (antipodal for two classes).
    Clusters {
        /// Number of points `N`.
        n: usize,
        /// Number of classes `Q`.
        #[serde(default = "default_classes")]
        classes: usize,
        /// Input dimension `M`.
        #[serde(default = "default_dim")]
        dim: usize,
        /// Distance scale between cluster centres.
        #[serde(default = "default_separation")]
        separation: f64,
        /// Standard deviation inside a cluster.
        #[serde(default = "default_blob_noise")]
        noise: f64,
    },
    /// 1-D regression `y = sin(x) + noise` on `[-π, π]`: `M = Q = 1`, one target per sample.
    Sin {
        /// Number of points `N`.
        n: usize,
        /// Standard deviation of Gaussian noise on `y`.
        #[serde(default)]
        noise: f64,
    },
}

fn default_noise() -> f64 {
    0.05
}
fn default_blob_noise() -> f64 {
    0.15
}
fn default_factor() -> f64 {
    0.5
}
fn default_classes() -> usize {
    3
}
fn default_dim() -> usize {
    2
}
fn default_separation() -> f64 {
    3.0
}

/// Materialized data: inputs, labels `ω` and class targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Inputs as columns, `M × N`.
    pub inputs: DMatrix<f64>,
    /// `ω(j) ∈ 0..C` for `j = 0..N`.
    pub labels: Vec<usize>,
    /// `C` targets `y_c ∈ R^Q`.
    pub targets: Vec<Vec<f64>>,
}

impl Dataset {
    /// Builds and validates a dataset from explicit points (field names as in [`DataSpec::Custom`]).
    ///
    /// Errors: `N = 0`, ragged or empty inputs, non-finite values, a label `≥ C`, ragged targets.
    pub fn custom(
        inputs: &[Vec<f64>],
        labels: &[usize],
        targets: Option<&[Vec<f64>]>,
    ) -> Result<Self> {
        let n = inputs.len();
        if n == 0 {
            return Err(Error::invalid(
                "data.inputs",
                "needs at least one point (N = 0)",
            ));
        }
        if n > MAX_POINTS {
            return Err(Error::invalid(
                "data.inputs",
                format!("{n} points is more than the limit of {MAX_POINTS}"),
            ));
        }
        let m = inputs[0].len();
        if m == 0 {
            return Err(Error::invalid(
                "data.inputs[0]",
                "has no coordinates (M = 0)",
            ));
        }
        for (j, x) in inputs.iter().enumerate() {
            if x.len() != m {
                return Err(Error::invalid(
                    format!("data.inputs[{j}]"),
                    format!("has {} coordinates but inputs[0] has {m}", x.len()),
                ));
            }
            for (i, v) in x.iter().enumerate() {
                finite(&format!("data.inputs[{j}][{i}]"), *v)?;
            }
        }
        if labels.len() != n {
            return Err(Error::invalid(
                "data.labels",
                format!("has {} labels for {n} inputs", labels.len()),
            ));
        }
        let targets: Vec<Vec<f64>> = match targets {
            Some(t) => t.to_vec(),
            None => {
                let c = labels.iter().max().map_or(1, |&l| l + 1);
                one_hot(c)
            }
        };
        if targets.is_empty() {
            return Err(Error::invalid("data.targets", "needs at least one target"));
        }
        let q = targets[0].len();
        if q == 0 {
            return Err(Error::invalid(
                "data.targets[0]",
                "has no coordinates (Q = 0)",
            ));
        }
        for (c, y) in targets.iter().enumerate() {
            if y.len() != q {
                return Err(Error::invalid(
                    format!("data.targets[{c}]"),
                    format!("has {} coordinates but targets[0] has {q}", y.len()),
                ));
            }
            for (i, v) in y.iter().enumerate() {
                finite(&format!("data.targets[{c}][{i}]"), *v)?;
            }
        }
        for (j, &l) in labels.iter().enumerate() {
            if l >= targets.len() {
                return Err(Error::invalid(
                    format!("data.labels[{j}]"),
                    format!(
                        "label {l} is out of range: there are {} targets (labels 0..{})",
                        targets.len(),
                        targets.len() - 1
                    ),
                ));
            }
        }
        let flat: Vec<f64> = inputs.iter().flatten().copied().collect();
        Ok(Dataset {
            inputs: DMatrix::from_column_slice(m, n, &flat),
            labels: labels.to_vec(),
            targets,
        })
    }

    /// Generates (or validates) the dataset a spec describes; `seed` drives every random choice.
    pub fn from_spec(spec: &DataSpec, seed: u64) -> Result<Self> {
        let mut rng = Rng::new(seed ^ 0xDA7A_5EED);
        match spec {
            DataSpec::Custom {
                inputs,
                labels,
                targets,
            } => Dataset::custom(inputs, labels, targets.as_deref()),
            DataSpec::Spirals { n, noise } => {
                check_n(*n)?;
                non_negative("data.noise", *noise)?;
                let pts = (0..*n)
                    .map(|i| {
                        let c = i % 2;
                        let t = 0.15 + 0.85 * rng.uniform().sqrt();
                        let a = 1.75 * 2.0 * PI * t + PI * c as f64;
                        let x = [
                            1.2 * t * a.cos() + noise * rng.normal(),
                            1.2 * t * a.sin() + noise * rng.normal(),
                        ];
                        (x.to_vec(), c)
                    })
                    .collect::<Vec<_>>();
                Ok(classification(pts, 2))
            }
            DataSpec::Circles { n, noise, factor } => {
                check_n(*n)?;
                non_negative("data.noise", *noise)?;
                positive("data.factor", *factor)?;
                if *factor >= 1.0 {
                    return Err(Error::invalid(
                        "data.factor",
                        format!("must be in (0, 1), got {factor}"),
                    ));
                }
                let pts = (0..*n)
                    .map(|i| {
                        let c = i % 2;
                        let r = if c == 0 { 1.0 } else { *factor };
                        let a = rng.range(0.0, 2.0 * PI);
                        let x = vec![
                            r * a.cos() + noise * rng.normal(),
                            r * a.sin() + noise * rng.normal(),
                        ];
                        (x, c)
                    })
                    .collect();
                Ok(classification(pts, 2))
            }
            DataSpec::Xor { n, noise } => {
                check_n(*n)?;
                non_negative("data.noise", *noise)?;
                let pts = (0..*n)
                    .map(|i| {
                        let c = i % 2;
                        // Quadrants: class 0 where x₁x₂ > 0, class 1 where x₁x₂ < 0; a margin of
                        // 0.1 keeps points off the axes.
                        let s1 = if rng.uniform() < 0.5 { 1.0 } else { -1.0 };
                        let s2 = if c == 0 { s1 } else { -s1 };
                        let x = vec![
                            s1 * rng.range(0.1, 1.0) + noise * rng.normal(),
                            s2 * rng.range(0.1, 1.0) + noise * rng.normal(),
                        ];
                        (x, c)
                    })
                    .collect();
                Ok(classification(pts, 2))
            }
            DataSpec::Blobs { n, classes, noise } => {
                check_n(*n)?;
                check_classes(*classes)?;
                non_negative("data.noise", *noise)?;
                let q = *classes;
                let pts = (0..*n)
                    .map(|i| {
                        let c = i % q;
                        let a = 2.0 * PI * c as f64 / q as f64 + 0.3;
                        let x = vec![
                            a.cos() + noise * rng.normal(),
                            a.sin() + noise * rng.normal(),
                        ];
                        (x, c)
                    })
                    .collect();
                Ok(classification(pts, q))
            }
            DataSpec::Moons { n, noise } => {
                check_n(*n)?;
                non_negative("data.noise", *noise)?;
                let pts = (0..*n)
                    .map(|i| {
                        let c = i % 2;
                        let t = rng.range(0.0, PI);
                        let (x, y) = if c == 0 {
                            (t.cos(), t.sin())
                        } else {
                            (1.0 - t.cos(), 0.5 - t.sin())
                        };
                        // Centre on the origin and scale to about [-1.2, 1.2].
                        let x = vec![
                            0.8 * (x - 0.5) + noise * rng.normal(),
                            0.8 * (y - 0.25) + noise * rng.normal(),
                        ];
                        (x, c)
                    })
                    .collect();
                Ok(classification(pts, 2))
            }
            DataSpec::Clusters {
                n,
                classes,
                dim,
                separation,
                noise,
            } => {
                check_n(*n)?;
                check_classes(*classes)?;
                if *dim == 0 || *dim > 10_000 {
                    return Err(Error::invalid(
                        "data.dim",
                        format!("must be in 1..=10000, got {dim}"),
                    ));
                }
                positive("data.separation", *separation)?;
                non_negative("data.noise", *noise)?;
                let q = *classes;
                // Centres on the sphere of radius separation/2, each the farthest of 64 random
                // candidates from the centres chosen so far: well spread (antipodal for two
                // classes), so that `separation` controls how far apart the classes are.
                let mut centres: Vec<Vec<f64>> = Vec::with_capacity(q);
                for _ in 0..q {
                    let mut best: Option<(f64, Vec<f64>)> = None;
                    for _ in 0..64 {
                        let v: Vec<f64> = (0..*dim).map(|_| rng.normal()).collect();
                        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt().max(1e-12);
                        let v: Vec<f64> = v.iter().map(|a| 0.5 * separation * a / norm).collect();
                        let gap = centres
                            .iter()
                            .map(|c| {
                                c.iter()
                                    .zip(&v)
                                    .map(|(a, b)| (a - b) * (a - b))
                                    .sum::<f64>()
                            })
                            .fold(f64::INFINITY, f64::min);
                        if best.as_ref().is_none_or(|b| gap > b.0) {
                            best = Some((gap, v));
                        }
                    }
                    centres.push(best.expect("64 candidates").1);
                }
                let pts = (0..*n)
                    .map(|i| {
                        let c = i % q;
                        let x = centres[c]
                            .iter()
                            .map(|m| m + noise * rng.normal())
                            .collect();
                        (x, c)
                    })
                    .collect();
                Ok(classification(pts, q))
            }
            DataSpec::Sin { n, noise } => {
                check_n(*n)?;
                non_negative("data.noise", *noise)?;
                let mut inputs = Vec::with_capacity(*n);
                let mut targets = Vec::with_capacity(*n);
                for j in 0..*n {
                    // Evenly spaced with a little jitter, so that inputs stay distinct.
                    let base = -PI + 2.0 * PI * (j as f64 + 0.5) / *n as f64;
                    let x = base + 0.25 * (2.0 * PI / *n as f64) * (rng.uniform() - 0.5);
                    inputs.push(vec![x]);
                    targets.push(vec![x.sin() + noise * rng.normal()]);
                }
                let labels: Vec<usize> = (0..*n).collect();
                Dataset::custom(&inputs, &labels, Some(&targets))
            }
        }
    }

    /// Number of samples `N`.
    pub fn n(&self) -> usize {
        self.inputs.ncols()
    }

    /// Input dimension `M`.
    pub fn m(&self) -> usize {
        self.inputs.nrows()
    }

    /// Output dimension `Q`.
    pub fn q(&self) -> usize {
        self.targets[0].len()
    }

    /// Number of classes (targets) `C`.
    pub fn classes(&self) -> usize {
        self.targets.len()
    }

    /// Stacked targets `y̲_ω ∈ R^{QN}`, sample-major (1.2).
    pub fn stacked_targets(&self) -> Vec<f64> {
        self.labels
            .iter()
            .flat_map(|&l| self.targets[l].iter().copied())
            .collect()
    }

    /// Inputs as a list of points (for serialization).
    pub fn input_rows(&self) -> Vec<Vec<f64>> {
        self.inputs
            .column_iter()
            .map(|c| c.iter().copied().collect())
            .collect()
    }

    /// Number of samples per class `N_c`.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes()];
        for &l in &self.labels {
            counts[l] += 1;
        }
        counts
    }

    /// The materialized [`DataSpec::Custom`] equivalent of this dataset.
    pub fn to_spec(&self) -> DataSpec {
        DataSpec::Custom {
            inputs: self.input_rows(),
            labels: self.labels.clone(),
            targets: Some(self.targets.clone()),
        }
    }
}

/// The `c` one-hot targets `e_1..e_c` in `R^c`.
pub fn one_hot(c: usize) -> Vec<Vec<f64>> {
    (0..c)
        .map(|i| (0..c).map(|k| if k == i { 1.0 } else { 0.0 }).collect())
        .collect()
}

fn classification(pts: Vec<(Vec<f64>, usize)>, classes: usize) -> Dataset {
    let m = pts[0].0.len();
    let n = pts.len();
    let flat: Vec<f64> = pts.iter().flat_map(|(x, _)| x.iter().copied()).collect();
    Dataset {
        inputs: DMatrix::from_column_slice(m, n, &flat),
        labels: pts.iter().map(|(_, c)| *c).collect(),
        targets: one_hot(classes),
    }
}

fn check_n(n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::invalid("data.n", "needs at least one point (N = 0)"));
    }
    if n > MAX_POINTS {
        return Err(Error::invalid(
            "data.n",
            format!("{n} points is more than the limit of {MAX_POINTS}"),
        ));
    }
    Ok(())
}

fn check_classes(q: usize) -> Result<()> {
    if !(1..=64).contains(&q) {
        return Err(Error::invalid(
            "data.classes",
            format!("must be in 1..=64, got {q}"),
        ));
    }
    Ok(())
}

crate::tagged::kind_tagged!(DataSpec);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generators_are_seeded_and_shaped() {
        let spec = DataSpec::Blobs {
            n: 30,
            classes: 3,
            noise: 0.1,
        };
        let a = Dataset::from_spec(&spec, 5).unwrap();
        let b = Dataset::from_spec(&spec, 5).unwrap();
        let c = Dataset::from_spec(&spec, 6).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.inputs, c.inputs);
        assert_eq!((a.n(), a.m(), a.q(), a.classes()), (30, 2, 3, 3));
        assert_eq!(a.class_counts(), vec![10, 10, 10]);
        assert_eq!(a.stacked_targets().len(), 90);
    }

    #[test]
    fn custom_data_errors_name_the_field() {
        let e = Dataset::custom(&[], &[], None).unwrap_err();
        assert!(e.to_string().starts_with("data.inputs:"), "{e}");
        let e = Dataset::custom(&[vec![0.0]], &[3], Some(&[vec![1.0]])).unwrap_err();
        assert!(e.to_string().starts_with("data.labels[0]:"), "{e}");
        let e = Dataset::custom(&[vec![f64::NAN]], &[0], None).unwrap_err();
        assert!(e.to_string().starts_with("data.inputs[0][0]:"), "{e}");
    }
}
