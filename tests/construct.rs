//! Constructive zero-cost minimizers (truncation maps): cost zero to rounding on clustered data,
//! a clear error on data that are not sequentially separable.

use pullback::math::construct::{self, parameter_count, required_widths};
use pullback::math::data::{DataSpec, Dataset};
use pullback::math::model::Model;
use pullback::math::net::{Activation, Mlp};
use pullback::run::scenario::{InitSpec, NetSpec, Scenario};
use pullback::run::session::Session;

fn clustered(classes: usize, dim: usize, seed: u64) -> Dataset {
    let spec = DataSpec::Clusters {
        n: 12 * classes,
        classes,
        dim,
        separation: 4.0,
        noise: 0.3,
    };
    Dataset::from_spec(&spec, seed).unwrap()
}

#[test]
fn constructive_cost_is_zero_to_rounding() {
    for (q, m) in [(2, 2), (3, 2), (3, 3), (4, 3), (5, 4)] {
        for seed in 1..=5 {
            let data = clustered(q, m, seed);
            let widths = required_widths(m, q, q);
            assert_eq!(widths.len(), q + 2, "Q hidden layers");
            let net = Mlp::new(&widths, Activation::Relu).unwrap();
            assert_eq!(
                net.k(),
                parameter_count(m, q, q),
                "K formula, (Q, M) = ({q}, {m})"
            );
            let model = Model::new(net, data).unwrap();
            assert!(
                model.k() < model.qn(),
                "the construction is underparametrized"
            );
            let c = construct::build(&model)
                .unwrap_or_else(|e| panic!("(Q, M) = ({q}, {m}), seed {seed}: {e}"));
            // Recompute the cost by the forward pass from the returned θ.
            let cost = model.cost(&c.theta);
            assert!(
                cost <= 1e-20,
                "(Q, M) = ({q}, {m}), seed {seed}: cost {cost:.3e}"
            );
            // Q + 1 stages; after stage l, the first l classes of the order sit on one point each.
            assert_eq!(c.stages.len(), q + 1);
            for (l, cut) in c.cuts.iter().enumerate() {
                let stage = &c.stages[l + 1];
                let members: Vec<&Vec<f64>> = (0..model.n())
                    .filter(|&j| model.data.labels[j] == cut.class)
                    .map(|j| &stage[j])
                    .collect();
                assert!(
                    members.iter().all(|p| *p == members[0]),
                    "class not collapsed"
                );
                assert!(cut.margin > 0.0 && cut.lambda > 0.0);
            }
        }
    }
}

#[test]
fn xor_is_not_sequentially_separable() {
    let data = Dataset::from_spec(&DataSpec::Xor { n: 40, noise: 0.0 }, 3).unwrap();
    let net = Mlp::new(&required_widths(2, 2, 2), Activation::Relu).unwrap();
    let model = Model::new(net, data).unwrap();
    let e = construct::build(&model).unwrap_err().to_string();
    assert!(e.contains("not sequentially separable"), "{e}");
    assert!(e.contains("step 1 of 2"), "{e}");
}

fn scenario(widths: Vec<usize>, activation: Activation) -> Scenario {
    Scenario {
        name: None,
        seed: 4,
        data: DataSpec::Clusters {
            n: 30,
            classes: 3,
            dim: 2,
            separation: 4.0,
            noise: 0.3,
        },
        net: NetSpec { widths, activation },
        init: InitSpec::Constructive,
        flow: Default::default(),
        cost: Default::default(),
        integrator: Default::default(),
        stop: Default::default(),
        rank_rtol: 1e-10,
        record: Default::default(),
        escape: Default::default(),
        trap: None,
        rank_formula: None,
    }
}

#[test]
fn constructive_init_through_the_scenario() {
    let sc = scenario(vec![2, 2, 2, 2, 3], Activation::Relu);
    let s = Session::new(&sc).unwrap();
    assert!(s.initial_cost() <= 1e-20, "C = {}", s.initial_cost());
    // JSON spelling.
    let json = sc.to_json();
    assert!(json.contains(r#""kind": "constructive""#), "{json}");
    let wrong = scenario(vec![2, 4, 3], Activation::Relu);
    let e = Session::new(&wrong).unwrap_err().to_string();
    assert!(
        e.starts_with("net.widths") && e.contains("[2, 2, 2, 2, 3]"),
        "{e}"
    );
    let tanh = scenario(vec![2, 2, 2, 2, 3], Activation::Tanh);
    assert!(Session::new(&tanh)
        .unwrap_err()
        .to_string()
        .starts_with("net.activation"));
    let mut xor = scenario(vec![2, 2, 2, 2], Activation::Relu);
    xor.data = DataSpec::Xor { n: 20, noise: 0.0 };
    let e = Session::new(&xor).unwrap_err().to_string();
    assert!(
        e.starts_with("init:") && e.contains("not sequentially separable"),
        "{e}"
    );
}

#[test]
fn narrow_inputs_are_widened_for_many_classes() {
    // M = 2 < Q − 1 = 3: hidden width 3 lifts the collapse points off the data plane.
    let data = clustered(4, 2, 7);
    let widths = required_widths(2, 4, 4);
    assert_eq!(widths, vec![2, 3, 3, 3, 3, 4]);
    let model = Model::new(Mlp::new(&widths, Activation::Relu).unwrap(), data).unwrap();
    let c = construct::build(&model).unwrap();
    assert!(model.cost(&c.theta) <= 1e-20);
}
