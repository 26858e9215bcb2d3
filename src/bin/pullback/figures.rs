//! `pullback figures`: every figure of the page from traces, drawn by the page's own figure
//! builders (`app::board`) and plot code (`plot`), as SVG or PNG at publication sizes.

use super::cli::FiguresArgs;
use super::common::{create_dir, read_text, write_file, Failure};
use plotters::prelude::*;
use pullback::app::board::Board;
use pullback::app::inspect::DEFAULT_SLICE_SIZE;
use pullback::app::replay::{choice_of, Replay};
use pullback::app::view::View;
use pullback::plot::Look;
use pullback::run::scenario::Trace;
use std::path::{Path, PathBuf};

/// Side of the boundary grid (the page's default is 48; a file is looked at longer).
const HEAT_SIZE: usize = 96;

/// Pixels, the look (font and line scale) and the resolution written into a PNG.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub w: u32,
    pub h: u32,
    pub look: Look,
    pub dpi: f64,
}

/// `column`: one column of a two-column paper, 3.4 in wide at 300 dpi (1020 × 720 pixels), fonts
/// scaled 2.5 so that the page's 12-pixel labels print at 7.2 pt; `slide`: 1920 × 1080 with
/// fonts scaled 2 (24-pixel labels); `WxH` or `WxH@S`: pixels at scale `S` (default 1).
pub fn parse_size(text: Option<&str>) -> Result<Size, Failure> {
    let bad = |why: &str| {
        Failure::Usage(format!(
            "--size: `{}` {why}; use column, slide, WxH or WxH@SCALE",
            text.unwrap_or("")
        ))
    };
    Ok(match text {
        None => Size {
            w: 800,
            h: 500,
            look: Look::default(),
            dpi: 96.0,
        },
        Some("column") => Size {
            w: 1020,
            h: 720,
            look: Look::scaled(2.5),
            dpi: 300.0,
        },
        Some("slide") => Size {
            w: 1920,
            h: 1080,
            look: Look::scaled(2.0),
            dpi: 144.0,
        },
        Some(t) => {
            let (dims, scale) = match t.split_once('@') {
                Some((d, s)) => (
                    d,
                    s.parse::<f64>()
                        .ok()
                        .filter(|s| s.is_finite() && (0.5..=4.0).contains(s))
                        .ok_or_else(|| bad("has a scale outside 0.5..=4"))?,
                ),
                None => (t, 1.0),
            };
            let (w, h) = dims
                .split_once(['x', 'X', '×'])
                .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
                .ok_or_else(|| bad("is not a size"))?;
            if !(64..=8192).contains(&w) || !(64..=8192).contains(&h) {
                return Err(bad("must be 64 to 8192 pixels on each side"));
            }
            Size {
                w,
                h,
                look: Look::scaled(scale),
                dpi: 96.0 * scale,
            }
        }
    })
}

/// The traces of the files: a trace, or a `compare.json` (its traces).
fn read_traces(paths: &[PathBuf]) -> Result<(Vec<Trace>, Vec<String>), Failure> {
    let mut traces = vec![];
    let mut stems = vec![];
    for p in paths {
        let text = read_text(p)?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Failure::Usage(format!("{}: not JSON: {e}", p.display())))?;
        let stem = p
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        if v.get("format").and_then(|f| f.as_str()) == Some("pullback-compare") {
            let list = v
                .get("traces")
                .and_then(|t| t.as_array())
                .ok_or_else(|| Failure::Usage(format!("{}: traces: missing", p.display())))?;
            for (i, t) in list.iter().enumerate() {
                let tr = Trace::from_json(&t.to_string())
                    .map_err(|e| Failure::Usage(format!("{}: traces[{i}]: {e}", p.display())))?;
                stems.push(format!("{stem}[{i}]"));
                traces.push(tr);
            }
        } else {
            traces.push(
                Trace::from_json(&text)
                    .map_err(|e| Failure::Usage(format!("{}: {e}", p.display())))?,
            );
            stems.push(stem);
        }
    }
    Ok((traces, stems))
}

/// Legend labels: the flow's label, with the file's name where two traces share a flow kind.
fn labels(traces: &[Trace], stems: &[String]) -> Vec<String> {
    let choices: Vec<_> = traces.iter().map(choice_of).collect();
    choices
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let twice = choices
                .iter()
                .enumerate()
                .any(|(j, d)| j != i && d.key() == c.key());
            if twice {
                format!("{} ({})", c.label(), stems[i])
            } else {
                c.label()
            }
        })
        .collect()
}

/// Writes one figure: `view` drawn by `board` into `dir/name.ext`.
fn draw(
    board: &mut Board,
    view: View,
    dir: &Path,
    name: &str,
    png: bool,
    size: Size,
) -> Result<PathBuf, Failure> {
    let plot = |e: pullback::Error| Failure::Io(format!("{name}: {e}"));
    if png {
        let path = dir.join(format!("{name}.png"));
        let rgb = pullback::plot::raster::render((size.w, size.h), |area| {
            board.draw(view, area, &size.look).map(|_| ())
        })
        .map_err(plot)?;
        let bytes =
            pullback::plot::raster::encode_png(&rgb, (size.w, size.h), size.dpi).map_err(plot)?;
        write_file(&path, bytes)?;
        Ok(path)
    } else {
        let path = dir.join(format!("{name}.svg"));
        {
            let area = SVGBackend::new(&path, (size.w, size.h)).into_drawing_area();
            area.fill(&WHITE)
                .map_err(|e| Failure::Io(format!("{name}: {e:?}")))?;
            board.draw(view, &area, &size.look).map_err(plot)?;
            area.present()
                .map_err(|e| Failure::Io(format!("cannot write {}: {e:?}", path.display())))?;
        }
        Ok(path)
    }
}

pub fn figures(args: FiguresArgs) -> Result<(), Failure> {
    if args.traces.is_empty() {
        return Err(Failure::Usage(
            "figures: give one or more trace files (from `run --out` or `compare --out`)".into(),
        ));
    }
    let dir = args
        .out
        .clone()
        .ok_or_else(|| Failure::Usage("figures: --out DIR is required".into()))?;
    let png = match args.format.as_str() {
        "svg" => false,
        "png" => true,
        f => return Err(Failure::Usage(format!("--format: `{f}` is not svg or png"))),
    };
    let size = parse_size(args.size.as_deref())?;
    let views: Vec<View> = match &args.views {
        None => View::ALL.to_vec(),
        Some(list) => list
            .split(',')
            .filter(|v| !v.is_empty())
            .enumerate()
            .map(|(i, v)| {
                View::from_key(v.trim()).ok_or_else(|| {
                    let all: Vec<&str> = View::ALL.iter().map(|v| v.key()).collect();
                    Failure::Usage(format!(
                        "--views[{i}]: `{v}` is not a figure; one of {}",
                        all.join(", ")
                    ))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let (traces, stems) = read_traces(&args.traces)?;
    let labels = labels(&traces, &stems);
    let replay = Replay::new(traces, labels)?;
    let mut board = replay.board()?;
    create_dir(&dir)?;
    let keys: Vec<String> = replay
        .traces()
        .iter()
        .zip(&stems)
        .map(|(t, stem)| {
            let k = choice_of(t).key().to_string();
            if replay
                .traces()
                .iter()
                .filter(|u| choice_of(u).key() == k)
                .count()
                > 1
            {
                format!("{k}-{stem}")
            } else {
                k
            }
        })
        .collect();
    let mut written = vec![];
    let mut notes = vec![];
    for view in views {
        let key = view.key();
        match view {
            View::Boundary => {
                if replay.info().bounds.is_none() {
                    notes.push(format!(
                        "{key}: none (the input plane needs M = 2 inputs; these data have M = {})",
                        replay.info().m
                    ));
                    continue;
                }
                for (i, k) in keys.iter().enumerate() {
                    let (h, bulk) = replay.heat_frame(i, HEAT_SIZE).expect("2-D inputs");
                    board.apply(&h, &bulk)?;
                    written.push(draw(
                        &mut board,
                        view,
                        &dir,
                        &format!("{key}-{k}"),
                        png,
                        size,
                    )?);
                }
            }
            View::Singular => {
                for (i, k) in keys.iter().enumerate() {
                    if !replay.has_singular_values(i) {
                        notes.push(format!(
                            "{key}-{k}: none (the trace keeps no singular values: record.singular_values; `compare` keeps them)"
                        ));
                        continue;
                    }
                    board.set_focus(i);
                    written.push(draw(
                        &mut board,
                        view,
                        &dir,
                        &format!("{key}-{k}"),
                        png,
                        size,
                    )?);
                }
                board.set_focus(0);
            }
            View::Critical => {
                for (i, k) in keys.iter().enumerate() {
                    match replay.critical(i, DEFAULT_SLICE_SIZE) {
                        Ok((report, bulk)) => {
                            board.apply_critical(report, &bulk)?;
                            written.push(draw(
                                &mut board,
                                view,
                                &dir,
                                &format!("{key}-{k}"),
                                png,
                                size,
                            )?);
                        }
                        Err(e) => notes.push(format!("{key}-{k}: none ({e})")),
                    }
                }
            }
            View::Construct => {
                let (report, bulk) = replay.construction();
                let why = report.error.clone();
                board.apply_construction(report, &bulk)?;
                let positions = board.layer_positions();
                if positions == 0 {
                    notes.push(format!(
                        "{key}: none ({})",
                        why.unwrap_or_else(|| "no construction for these data".into())
                    ));
                    continue;
                }
                for p in 0..positions {
                    board.set_stage(p as f64);
                    written.push(draw(
                        &mut board,
                        view,
                        &dir,
                        &format!("{key}-{p}"),
                        png,
                        size,
                    )?);
                }
            }
            View::Homotopy => match replay.family() {
                Some((header, bulk)) => {
                    board.apply_family(header, &bulk)?;
                    written.push(draw(&mut board, view, &dir, key, png, size)?);
                }
                None => notes.push(format!(
                    "{key}: none (no trace of the standard, adapted or a homotopy flow)"
                )),
            },
            // The modes need the NTK's eigenvectors at θ₀ and the outputs of every sample, which
            // the worker computes while the run goes; a trace does not hold them.
            View::Eigenmodes => notes.push(format!(
                "{key}: none (the eigenmode view is computed by the page while it runs; traces \
                 do not keep the NTK's eigenvectors)"
            )),
            // Every other figure (and any the page adds) is drawn from the loaded board as is.
            _ => written.push(draw(&mut board, view, &dir, key, png, size)?),
        }
    }
    if !args.quiet {
        for (i, t) in replay.traces().iter().enumerate() {
            if !replay.has_trails(i) {
                eprintln!(
                    "note: {}: the samples keep neither outputs nor θ; its output trails are straight segments from x(0) to the end",
                    keys[i]
                );
            }
            let _ = t;
        }
        for n in &notes {
            eprintln!("note: {n}");
        }
        eprintln!(
            "wrote {} figures ({}×{} px, {}) to {}",
            written.len(),
            size.w,
            size.h,
            if png { "png" } else { "svg" },
            dir.display()
        );
    }
    Ok(())
}
