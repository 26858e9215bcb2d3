//! Editing a scenario's data from the page: the live size readout, points added and removed by
//! clicking, and CSV import / export (`x1,…,xM,label`).

use crate::error::{Error, Result};
use crate::math::data::{DataSpec, Dataset, MAX_POINTS};
use crate::math::model::{Model, Regime};
use crate::math::net::Mlp;
use crate::run::scenario::Scenario;
use serde::{Deserialize, Serialize};

/// The sizes of a scenario, computed without running anything.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Parameter count `K`.
    pub k: usize,
    /// Output dimension `Q`.
    pub q: usize,
    /// Samples `N`.
    pub n: usize,
    /// Input dimension `M`.
    pub m: usize,
    /// `QN`.
    pub qn: usize,
    /// Number of targets (classes) `C`.
    pub classes: usize,
    /// `K` against `QN`.
    pub regime: Regime,
}

/// `K`, `QN` and the regime of `sc`, checking that network and data fit together.
///
/// Errors: every validation error of the scenario, the data and the network, named by field.
pub fn describe(sc: &Scenario) -> Result<Summary> {
    sc.validate()?;
    let data = Dataset::from_spec(&sc.data, sc.seed)?;
    let net = Mlp::new(&sc.net.widths, sc.net.activation)?;
    let model = Model::new(net, data)?;
    Ok(Summary {
        k: model.k(),
        q: model.q(),
        n: model.n(),
        m: model.data.m(),
        qn: model.qn(),
        classes: model.data.classes(),
        regime: model.regime(),
    })
}

/// Input dimension `M` and output dimension `Q` of a data spec (generates it: custom data and
/// clusters carry them inside).
///
/// Errors: the data spec's own validation errors.
pub fn data_dims(spec: &DataSpec, seed: u64) -> Result<(usize, usize)> {
    let d = Dataset::from_spec(spec, seed)?;
    Ok((d.m(), d.q()))
}

/// `widths` with the input and output width set to those of the data.
///
/// Errors: the data spec's own validation errors.
pub fn fit_widths(sc: &mut Scenario) -> Result<()> {
    let (m, q) = data_dims(&sc.data, sc.seed)?;
    let w = &mut sc.net.widths;
    if w.len() < 2 {
        *w = vec![m, q];
    }
    w[0] = m;
    *w.last_mut().expect("at least two") = q;
    Ok(())
}

/// Inputs, labels and targets of a materialized data set.
type Points = (Vec<Vec<f64>>, Vec<usize>, Vec<Vec<f64>>);

fn materialized(sc: &Scenario) -> Result<Points> {
    let d = Dataset::from_spec(&sc.data, sc.seed)?;
    Ok((d.input_rows(), d.labels.clone(), d.targets.clone()))
}

/// `sc` with one more data point at `x` of class `class` (0-based); generated data become custom.
///
/// Errors: `x` of the wrong dimension or not finite (`x`), a class without a target (`class`),
/// too many points.
pub fn add_point(sc: &Scenario, x: &[f64], class: usize) -> Result<Scenario> {
    let (mut inputs, mut labels, targets) = materialized(sc)?;
    let m = inputs.first().map_or(x.len(), Vec::len);
    if x.len() != m {
        return Err(Error::invalid(
            "x",
            format!("has {} coordinates, the data have M = {m}", x.len()),
        ));
    }
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid(
            format!("x[{i}]"),
            format!("must be finite, got {}", x[i]),
        ));
    }
    if class >= targets.len() {
        return Err(Error::invalid(
            "class",
            format!(
                "is {} but there are {} classes (1..{})",
                class + 1,
                targets.len(),
                targets.len()
            ),
        ));
    }
    if inputs.len() >= MAX_POINTS {
        return Err(Error::invalid(
            "data.inputs",
            format!("already holds the limit of {MAX_POINTS} points"),
        ));
    }
    inputs.push(x.to_vec());
    labels.push(class);
    let mut out = sc.clone();
    out.data = DataSpec::Custom {
        inputs,
        labels,
        targets: Some(targets),
    };
    Ok(out)
}

/// `sc` without the data point nearest to `x`, if one lies within `radius`; `None` otherwise.
///
/// Errors: removing the last point (`data.inputs`).
pub fn remove_point(sc: &Scenario, x: &[f64], radius: f64) -> Result<Option<Scenario>> {
    let (mut inputs, mut labels, targets) = materialized(sc)?;
    let nearest = inputs
        .iter()
        .enumerate()
        .map(|(j, p)| {
            let d: f64 = p.iter().zip(x).map(|(a, b)| (a - b) * (a - b)).sum();
            (j, d.sqrt())
        })
        .min_by(|a, b| a.1.total_cmp(&b.1));
    let Some((j, d)) = nearest else {
        return Ok(None);
    };
    if d > radius {
        return Ok(None);
    }
    if inputs.len() == 1 {
        return Err(Error::invalid(
            "data.inputs",
            "cannot remove the last point (N must stay ≥ 1)",
        ));
    }
    inputs.remove(j);
    labels.remove(j);
    let mut out = sc.clone();
    out.data = DataSpec::Custom {
        inputs,
        labels,
        targets: Some(targets),
    };
    Ok(Some(out))
}

/// Reads `x1,…,xM,label` rows. An optional first line of column names is skipped, as are blank
/// lines and `#` comments. Labels may be integers or names: the distinct labels, sorted
/// (numerically when all are numbers), become classes `0..C` with one-hot targets.
///
/// Errors name the line and column, e.g. `csv line 4, column 2: "abc" is not a number`.
pub fn parse_csv(text: &str) -> Result<DataSpec> {
    let mut rows: Vec<(usize, Vec<f64>, String)> = vec![];
    let mut width: Option<(usize, usize)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let numeric_head = fields[..fields.len().saturating_sub(1)]
            .iter()
            .all(|f| f.parse::<f64>().is_ok());
        if rows.is_empty() && width.is_none() && !numeric_head {
            // A header row: remember its width, read nothing from it.
            width = Some((fields.len(), line_no));
            continue;
        }
        if fields.len() < 2 {
            return Err(Error::invalid(
                format!("csv line {line_no}"),
                "needs at least two columns: x1,…,xM,label",
            ));
        }
        match width {
            Some((w, first)) if w != fields.len() => {
                return Err(Error::invalid(
                    format!("csv line {line_no}"),
                    format!("has {} columns but line {first} has {w}", fields.len()),
                ));
            }
            None => width = Some((fields.len(), line_no)),
            _ => {}
        }
        let (label, xs) = fields.split_last().expect("two or more");
        let mut x = Vec::with_capacity(xs.len());
        for (c, f) in xs.iter().enumerate() {
            let v: f64 = f.parse().map_err(|_| {
                Error::invalid(
                    format!("csv line {line_no}, column {}", c + 1),
                    format!("\"{f}\" is not a number"),
                )
            })?;
            if !v.is_finite() {
                return Err(Error::invalid(
                    format!("csv line {line_no}, column {}", c + 1),
                    format!("must be finite, got {f}"),
                ));
            }
            x.push(v);
        }
        if label.is_empty() {
            return Err(Error::invalid(
                format!("csv line {line_no}, column {}", fields.len()),
                "the label is empty",
            ));
        }
        rows.push((line_no, x, label.to_string()));
        if rows.len() > MAX_POINTS {
            return Err(Error::invalid(
                "csv",
                format!("more than {MAX_POINTS} rows"),
            ));
        }
    }
    if rows.is_empty() {
        return Err(Error::invalid("csv", "has no data rows (x1,…,xM,label)"));
    }
    let mut names: Vec<String> = rows.iter().map(|r| r.2.clone()).collect();
    let all_numeric = names.iter().all(|n| n.parse::<f64>().is_ok());
    if all_numeric {
        names.sort_by(|a, b| {
            a.parse::<f64>()
                .expect("checked")
                .total_cmp(&b.parse::<f64>().expect("checked"))
        });
    } else {
        names.sort();
    }
    names.dedup_by(|a, b| {
        if all_numeric {
            a.parse::<f64>().ok() == b.parse::<f64>().ok()
        } else {
            a == b
        }
    });
    let class_of = |l: &str| -> usize {
        names
            .iter()
            .position(|n| {
                if all_numeric {
                    n.parse::<f64>().ok() == l.parse::<f64>().ok()
                } else {
                    n == l
                }
            })
            .expect("every label is among the names")
    };
    let labels: Vec<usize> = rows.iter().map(|r| class_of(&r.2)).collect();
    let inputs: Vec<Vec<f64>> = rows.into_iter().map(|r| r.1).collect();
    // Validate now, so that errors surface at import with the usual field names.
    Dataset::custom(&inputs, &labels, None)?;
    Ok(DataSpec::Custom {
        inputs,
        labels,
        targets: None,
    })
}

/// The scenario's data as CSV: a header `x1,…,xM,label`, one row per point, labels 0-based.
///
/// Errors: the data spec's own validation errors.
pub fn to_csv(sc: &Scenario) -> Result<String> {
    let d = Dataset::from_spec(&sc.data, sc.seed)?;
    let mut out: Vec<String> = (1..=d.m()).map(|i| format!("x{i}")).collect();
    out.push("label".into());
    let mut text = out.join(",");
    text.push('\n');
    for (x, l) in d.input_rows().iter().zip(&d.labels) {
        for v in x {
            text.push_str(&format!("{v},"));
        }
        text.push_str(&format!("{l}\n"));
    }
    Ok(text)
}

/// `sc` with its data replaced by imported CSV and the network's input and output widths fitted.
///
/// Errors: see [`parse_csv`].
pub fn import_csv(sc: &Scenario, text: &str) -> Result<Scenario> {
    let mut out = sc.clone();
    out.data = parse_csv(text)?;
    fit_widths(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::presets;

    fn over() -> Scenario {
        presets::find("over-smooth").unwrap().scenario
    }

    #[test]
    fn describe_reads_the_sizes_before_anything_runs() {
        let s = describe(&over()).unwrap();
        assert_eq!((s.k, s.qn, s.n, s.m, s.q), (354, 32, 16, 2, 2));
        assert_eq!(s.regime, Regime::Over);
        let s = describe(&presets::find("under-stationary").unwrap().scenario).unwrap();
        assert_eq!((s.k, s.qn, s.regime), (15, 120, Regime::Under));
        let mut bad = over();
        bad.net.widths[0] = 3;
        let e = describe(&bad).unwrap_err();
        assert!(e.to_string().starts_with("net.widths[0]: is 3"), "{e}");
    }

    #[test]
    fn points_are_added_and_removed() {
        let sc = over();
        let added = add_point(&sc, &[0.3, -0.2], 1).unwrap();
        let s = describe(&added).unwrap();
        assert_eq!(s.n, 17);
        let DataSpec::Custom { inputs, labels, .. } = &added.data else {
            panic!()
        };
        assert_eq!(inputs[16], vec![0.3, -0.2]);
        assert_eq!(labels[16], 1);
        // The original 16 points are kept exactly.
        let orig = Dataset::from_spec(&sc.data, sc.seed).unwrap().input_rows();
        assert_eq!(&inputs[..16], &orig[..]);
        let removed = remove_point(&added, &[0.31, -0.2], 0.05).unwrap().unwrap();
        assert_eq!(describe(&removed).unwrap().n, 16);
        assert!(remove_point(&added, &[5.0, 5.0], 0.05).unwrap().is_none());
        let e = add_point(&sc, &[0.0], 0).unwrap_err();
        assert!(e.to_string().starts_with("x: has 1 coordinates"), "{e}");
        let e = add_point(&sc, &[0.0, 0.0], 2).unwrap_err();
        assert!(
            e.to_string().starts_with("class: is 3 but there are 2"),
            "{e}"
        );
        let e = add_point(&sc, &[f64::NAN, 0.0], 0).unwrap_err();
        assert!(e.to_string().starts_with("x[0]: must be finite"), "{e}");
    }

    #[test]
    fn csv_round_trips_and_names_bad_cells() {
        let sc = over();
        let text = to_csv(&sc).unwrap();
        assert!(text.starts_with("x1,x2,label\n"));
        assert_eq!(text.lines().count(), 17);
        let back = import_csv(&sc, &text).unwrap();
        let (a, b) = (
            Dataset::from_spec(&sc.data, sc.seed).unwrap(),
            Dataset::from_spec(&back.data, back.seed).unwrap(),
        );
        assert_eq!(a.inputs, b.inputs);
        assert_eq!(a.labels, b.labels);
        assert_eq!(a.targets, b.targets);
        assert_eq!(back.net.widths, sc.net.widths);

        // Named labels, a comment, blank lines, three classes in R^3.
        let spec = parse_csv("# iris-ish\na,b,c,species\n1,2,3,setosa\n\n4,5,6,virginica\n7,8,9,setosa\n0,0,1,versicolor\n").unwrap();
        let DataSpec::Custom { inputs, labels, .. } = &spec else {
            panic!()
        };
        assert_eq!(inputs.len(), 4);
        assert_eq!(labels, &vec![0, 2, 0, 1]);
        let mut sc3 = sc.clone();
        sc3.data = spec;
        fit_widths(&mut sc3).unwrap();
        assert_eq!(sc3.net.widths, vec![3, 16, 16, 3]);

        // Numeric labels 1 and 2 become classes 0 and 1.
        let DataSpec::Custom { labels, .. } = parse_csv("0,0,1\n1,1,2\n2,2,1\n").unwrap() else {
            panic!()
        };
        assert_eq!(labels, vec![0, 1, 0]);

        for (text, field, why) in [
            (
                "1,2,0\n1,x,1\n",
                "csv line 2, column 2",
                "\"x\" is not a number",
            ),
            (
                "1,2,0\n1,1\n",
                "csv line 2",
                "has 2 columns but line 1 has 3",
            ),
            ("x1,x2,label\n", "csv", "no data rows"),
            ("1,2,\n", "csv line 1, column 3", "the label is empty"),
            ("5\n", "csv line 1", "needs at least two columns"),
            ("1,inf,0\n", "csv line 1, column 2", "must be finite"),
        ] {
            let e = parse_csv(text).unwrap_err();
            let Error::Invalid {
                field: named,
                reason,
            } = &e
            else {
                panic!("{text:?}: not an invalid-field error: {e:?}")
            };
            assert_eq!(named, field, "{text:?}");
            assert!(reason.contains(why), "{text:?}: {reason}");
        }
    }
}
