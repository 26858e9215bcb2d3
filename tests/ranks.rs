//! The rank formulas of Section 2.1 against measurement: the presets' stated formulas, the
//! two-layer linear net's r₂N + (Q − r₂)(r₁ + 1), the shallow ReLU net's jQ + Q with inactive
//! samples, and the pivoted QR that picks independent columns.

mod common;
use nalgebra::DMatrix;
use pullback::linalg::svd::JacobianSvd;
use pullback::math::critical;
use pullback::math::data::Dataset;
use pullback::math::model::Model;
use pullback::math::net::{Activation, Mlp};
use pullback::rng::Rng;
use pullback::run::session::Session;

const RTOL: f64 = 1e-10;

#[test]
fn measured_ranks_against_the_formulas_of_section_2_1() {
    let cases = [
        ("linear-rank", 8, 8),
        ("two-layer-linear", 7, 8),
        ("shallow-relu-inactive", 4, 6),
    ];
    for (name, paper, measured) in cases {
        let mut s = Session::new(&common::preset(name)).unwrap();
        s.step();
        let t = s.trace();
        let r = t.rank_formula.expect("preset states a formula");
        assert_eq!(r.paper, paper, "{name}");
        assert_eq!(r.measured, measured, "{name}: {r:?}");
        assert_eq!(r.agrees, paper == measured);
        assert_eq!(t.samples[0].rank, measured);
        if !r.agrees {
            assert!(
                r.note.is_some(),
                "{name}: a difference needs an explanation"
            );
        }
    }
}

fn rank_of(model: &Model, theta: &[f64]) -> usize {
    let d = model.net.jacobian(theta, &model.data.inputs);
    JacobianSvd::new(&d.transpose(), RTOL).unwrap().rank()
}

fn random_data(rng: &mut Rng, m: usize, q: usize, n: usize) -> Dataset {
    let inputs: Vec<Vec<f64>> = (0..n)
        .map(|_| (0..m).map(|_| rng.normal()).collect())
        .collect();
    let targets: Vec<Vec<f64>> = (0..n)
        .map(|_| (0..q).map(|_| rng.normal()).collect())
        .collect();
    Dataset::custom(&inputs, &(0..n).collect::<Vec<_>>(), Some(&targets)).unwrap()
}

/// `u vᵀ`-sums of rank `r` (`rows × cols`, row-major).
fn low_rank(rng: &mut Rng, rows: usize, cols: usize, r: usize) -> Vec<f64> {
    let u = DMatrix::from_fn(rows, r, |_, _| rng.normal());
    let v = DMatrix::from_fn(cols, r, |_, _| rng.normal());
    let w = u * v.transpose();
    (0..rows * cols).map(|i| w[(i / cols, i % cols)]).collect()
}

#[test]
fn two_layer_linear_rank_is_r2_n_plus_q_minus_r2_times_r1_plus_1() {
    // Section 2.1.1 bounds rank D ≤ r₁N + r₂Q. Measured over random data and weights: rank D =
    // r₂N + (Q − r₂)·min(r₁ + 1, N) — the output-bias block adds the constant direction to the
    // span of the hidden activations for every output. The paper's bound fails in some cases.
    let mut rng = Rng::new(3);
    let mut violations = 0;
    let mut count = 0;
    for (widths, n) in [
        ([4usize, 3, 2], 3usize),
        ([5, 4, 3], 4),
        ([6, 5, 3], 5),
        ([6, 5, 2], 4),
    ] {
        let (m, m1, q) = (widths[0], widths[1], widths[2]);
        for r1 in 1..m1 {
            for r2 in 1..q {
                let net = Mlp::new(&widths, Activation::Identity).unwrap();
                let model = Model::new(net, random_data(&mut rng, m, q, n)).unwrap();
                let mut theta = vec![0.0; model.k()];
                let (w1, b1) = model.net.layer_offsets(1);
                theta[w1..w1 + m1 * m].copy_from_slice(&low_rank(&mut rng, m1, m, r1));
                for b in &mut theta[b1..b1 + m1] {
                    *b = rng.normal();
                }
                let (w2, b2) = model.net.layer_offsets(2);
                theta[w2..w2 + q * m1].copy_from_slice(&low_rank(&mut rng, q, m1, r2));
                for b in &mut theta[b2..b2 + q] {
                    *b = rng.normal();
                }
                let measured = rank_of(&model, &theta);
                let formula = r2 * n + (q - r2) * (r1 + 1).min(n);
                assert_eq!(measured, formula, "{widths:?} N={n} r1={r1} r2={r2}");
                if measured > r1 * n + r2 * q {
                    violations += 1;
                }
                count += 1;
            }
        }
    }
    eprintln!("paper's bound r1 N + r2 Q exceeded in {violations} of {count} cases");
    assert!(violations > 0);
}

#[test]
fn shallow_relu_rank_with_inactive_samples_is_jq_plus_q() {
    // (2.39) with N − J ≥ 1 fully inactive samples: their rows are [0 … 0 | 1_Q], adding Q.
    let mut rng = Rng::new(9);
    for (m, m1, q, n, j) in [
        (4, 4, 2, 4, 2),
        (5, 5, 2, 5, 3),
        (6, 6, 3, 4, 2),
        (5, 5, 1, 4, 3),
    ] {
        let net = Mlp::new(&[m, m1, q], Activation::Relu).unwrap();
        let mut data = random_data(&mut rng, m, q, n);
        // Active samples: positive coordinates; inactive: negative ones; W₁ = I-like and b₁ = 0.1
        // puts every unit on for the first J samples and off for the rest.
        for c in 0..n {
            for r in 0..m {
                let v: f64 = 0.5 + rng.uniform();
                data.inputs[(r, c)] = if c < j { v } else { -v };
            }
        }
        let model = Model::new(net, data).unwrap();
        let mut theta = vec![0.0; model.k()];
        let (w1, b1) = model.net.layer_offsets(1);
        for a in 0..m1 {
            for b in 0..m {
                theta[w1 + a * m + b] = if a == b { 1.0 } else { 0.1 * rng.uniform() };
            }
            theta[b1 + a] = 0.1;
        }
        let (w2, _) = model.net.layer_offsets(2);
        for v in &mut theta[w2..w2 + q * m1] {
            *v = rng.normal();
        }
        let measured = rank_of(&model, &theta);
        assert_eq!(measured, (j * q + q).min(q * n), "M={m} Q={q} N={n} J={j}");
        assert!(measured > j * q, "the paper's JQ = {}", j * q);
    }
}

#[test]
fn pivoted_qr_picks_independent_columns() {
    // Columns 0 and 2 are parallel, column 3 = column 1 + column 4.
    let d = DMatrix::from_row_slice(
        3,
        5,
        &[
            1.0, 0.0, 2.0, 1.0, 1.0, //
            0.0, 1.0, 0.0, 1.0, 0.0, //
            1.0, 0.0, 2.0, 0.0, -1.0,
        ],
    );
    let (cols, r) = critical::pivot_columns(&d, 3);
    assert_eq!(cols.len(), 3);
    let sub = DMatrix::from_fn(3, 3, |i, j| d[(i, cols[j])]);
    let s = sub.singular_values();
    assert!(s.min() / s.max() > 1e-3, "chosen {cols:?}");
    assert!(r.windows(2).all(|w| w[0] >= w[1] - 1e-12), "{r:?}");
    assert_eq!(cols[0], 2, "largest column first");
    let (cols, _) = critical::pivot_columns(&d, 10);
    assert_eq!(cols.len(), 3, "capped at min(m, n)");
}
