//! Every figure drawn with plotters-canvas into a real canvas (wasm-bindgen-test in chromium),
//! fed through the same glue as the page (worker host → messages → figures), with pixel checks:
//! not blank, and the flow or class colours where the curves and points must be.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Reflect, JSON};
use plotters::style::RGBColor;
use pullback::plot::{class_color, PALETTE};
use pullback::run::scenario::Trace;
use pullback::web::{Figures, WorkerHost};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

wasm_bindgen_test_configure!(run_in_browser);

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &key.into()).unwrap()
}

fn feed(fig: &mut Figures, out: Array) {
    for m in out.iter() {
        match get(&m, "type").as_string().unwrap().as_str() {
            "loaded" => fig.load(get(&m, "info"), get(&m, "bulk")).unwrap(),
            "frame" => assert!(fig.apply(get(&m, "frame"), get(&m, "bulk")).unwrap()),
            "critical" => assert!(fig
                .apply_critical(get(&m, "report"), get(&m, "bulk"))
                .unwrap()),
            "construction" => {
                assert!(fig
                    .apply_construction(get(&m, "report"), get(&m, "bulk"))
                    .unwrap())
            }
            "family" => assert!(fig
                .apply_family(get(&m, "family"), get(&m, "bulk"))
                .unwrap()),
            "modes" => assert!(fig.apply_modes(get(&m, "modes"), get(&m, "bulk")).unwrap()),
            "tuned" => assert!(fig.retune(get(&m, "info")).unwrap()),
            "ack" => {}
            other => panic!("unexpected {other}: {m:?}"),
        }
    }
}

/// Figures of `preset` with the given flows, run until `s ≥ s_to`, heatmap on lane 0.
fn figures(preset: &str, flows: &str, s_to: f64) -> (Figures, WorkerHost) {
    let sc = pullback::run::presets::find(preset).unwrap().scenario;
    figures_of(sc, flows, s_to)
}

/// Figures of a scenario with the given flows, run until `s ≥ s_to`, heatmap on lane 0.
fn figures_of(
    sc: pullback::run::scenario::Scenario,
    flows: &str,
    s_to: f64,
) -> (Figures, WorkerHost) {
    let mut host = WorkerHost::new();
    let mut fig = Figures::new();
    let load = js_sys::Object::new();
    Reflect::set(&load, &"id".into(), &1.into()).unwrap();
    Reflect::set(&load, &"type".into(), &"load".into()).unwrap();
    Reflect::set(&load, &"scenario".into(), &sc.to_json().into()).unwrap();
    Reflect::set(&load, &"flows".into(), &JSON::parse(flows).unwrap()).unwrap();
    feed(&mut fig, host.handle(load.into()).unwrap());
    let heat = JSON::parse(r#"{"id": 2, "type": "heatmap", "lane": 0, "size": 32}"#).unwrap();
    feed(&mut fig, host.handle(heat).unwrap());
    feed(
        &mut fig,
        host.handle(JSON::parse(r#"{"id": 3, "type": "play"}"#).unwrap())
            .unwrap(),
    );
    while host.wants_tick() && fig.s() < s_to {
        let out = host.tick().unwrap();
        feed(&mut fig, out);
    }
    feed(
        &mut fig,
        host.handle(JSON::parse(r#"{"id": 4, "type": "pause"}"#).unwrap())
            .unwrap(),
    );
    (fig, host)
}

fn canvas(w: u32, h: u32) -> HtmlCanvasElement {
    let doc = web_sys::window().unwrap().document().unwrap();
    let c: HtmlCanvasElement = doc.create_element("canvas").unwrap().dyn_into().unwrap();
    c.set_width(w);
    c.set_height(h);
    doc.body().unwrap().append_child(&c).unwrap();
    c
}

struct Pixels {
    w: usize,
    h: usize,
    data: Vec<u8>,
}

impl Pixels {
    fn of(c: &HtmlCanvasElement) -> Pixels {
        let ctx: CanvasRenderingContext2d =
            c.get_context("2d").unwrap().unwrap().dyn_into().unwrap();
        let img = ctx
            .get_image_data(0.0, 0.0, c.width() as f64, c.height() as f64)
            .unwrap();
        Pixels {
            w: c.width() as usize,
            h: c.height() as usize,
            data: img.data().0,
        }
    }

    fn at(&self, x: usize, y: usize) -> (u8, u8, u8) {
        let i = 4 * (y * self.w + x);
        (self.data[i], self.data[i + 1], self.data[i + 2])
    }

    /// Fraction of pixels that are not white.
    fn ink(&self) -> f64 {
        let n = (0..self.w * self.h)
            .filter(|&i| self.data[4 * i..4 * i + 3].iter().any(|&v| v < 245))
            .count();
        n as f64 / (self.w * self.h) as f64
    }

    /// Pixels within `tol` of `c` on every channel.
    fn count(&self, c: RGBColor, tol: i32) -> usize {
        (0..self.w * self.h)
            .filter(|&i| {
                let p = &self.data[4 * i..4 * i + 3];
                (p[0] as i32 - c.0 as i32).abs() <= tol
                    && (p[1] as i32 - c.1 as i32).abs() <= tol
                    && (p[2] as i32 - c.2 as i32).abs() <= tol
            })
            .count()
    }

    /// Whether a pixel within `r` of `(x, y)` is within `tol` of `c`.
    fn near(&self, x: f64, y: f64, r: i64, c: RGBColor, tol: i32) -> bool {
        for dy in -r..=r {
            for dx in -r..=r {
                let (px, py) = (x.round() as i64 + dx, y.round() as i64 + dy);
                if px < 0 || py < 0 || px as usize >= self.w || py as usize >= self.h {
                    continue;
                }
                let p = self.at(px as usize, py as usize);
                if (p.0 as i32 - c.0 as i32).abs() <= tol
                    && (p.1 as i32 - c.1 as i32).abs() <= tol
                    && (p.2 as i32 - c.2 as i32).abs() <= tol
                {
                    return true;
                }
            }
        }
        false
    }
}

fn trace(host: &mut WorkerHost, lane: usize) -> Trace {
    let out = host
        .handle(JSON::parse(&format!(r#"{{"id": 9, "type": "trace", "lane": {lane}}}"#)).unwrap())
        .unwrap();
    Trace::from_json(&get(&out.get(0), "json").as_string().unwrap()).unwrap()
}

#[wasm_bindgen_test]
fn the_cost_figure_draws_each_flow_where_its_cost_is() {
    let (mut fig, mut host) = figures(
        "over-smooth",
        r#"[{"kind": "adapted"}, {"kind": "standard"}]"#,
        40.0,
    );
    for scale in [1.0, 2.0] {
        let c = canvas((560.0 * scale) as u32, (360.0 * scale) as u32);
        fig.draw("cost", c.clone(), scale).unwrap();
        let px = Pixels::of(&c);
        assert!(px.ink() > 0.03, "blank cost figure: ink {}", px.ink());
        for (lane, &color) in PALETTE.iter().enumerate().take(2) {
            let t = trace(&mut host, lane);
            assert!(
                px.count(color, 10) > (100.0 * scale) as usize,
                "lane {lane} colour missing"
            );
            // At a third of the way, the curve passes through the pixel of (s, C(s)).
            let smp = &t.samples[t.samples.len() / 3];
            let at = fig.pixel_of("cost", smp.s, smp.cost).unwrap();
            assert!(
                px.near(at[0], at[1], (3.0 * scale) as i64, color, 40),
                "lane {lane} not drawn at s = {}, C = {} (pixel {at:?})",
                smp.s,
                smp.cost
            );
        }
        // The hover readout at that place names the adapted cost.
        let t = trace(&mut host, 0);
        let smp = &t.samples[t.samples.len() / 3];
        let at = fig.pixel_of("cost", smp.s, smp.cost).unwrap();
        let text = fig.hover("cost", at[0], at[1]).unwrap();
        assert!(
            text.contains(&format!("adapted: C = {:.4e}", smp.cost)),
            "{text}"
        );
    }
}

#[wasm_bindgen_test]
fn the_output_figure_draws_trails_and_targets() {
    let (mut fig, mut host) = figures(
        "over-smooth",
        r#"[{"kind": "adapted"}, {"kind": "standard"}]"#,
        20.0,
    );
    let c = canvas(480, 420);
    fig.draw("outputs", c.clone(), 1.0).unwrap();
    let px = Pixels::of(&c);
    assert!(px.ink() > 0.02, "ink {}", px.ink());
    let t = trace(&mut host, 0);
    let last = t.samples.last().unwrap().outputs.clone().unwrap();
    // The adapted head of sample 1 is a filled disc of the adapted colour.
    let at = fig.pixel_of("outputs", last[0], last[1]).unwrap();
    assert!(
        px.near(at[0], at[1], 2, PALETTE[0], 40),
        "no adapted head at {at:?}"
    );
    // The targets y1 = (1, 0) and y2 = (0, 1) are black crosses.
    for (x, y) in [(1.0, 0.0), (0.0, 1.0)] {
        let at = fig.pixel_of("outputs", x, y).unwrap();
        assert!(
            px.near(at[0], at[1], 1, RGBColor(0, 0, 0), 60),
            "no target at ({x}, {y})"
        );
    }
    assert!(px.count(PALETTE[1], 10) > 100, "standard trails missing");
}

#[wasm_bindgen_test]
fn the_spectrum_figure_draws_lambda_rho_and_rank() {
    let (mut fig, mut host) = figures(
        "over-smooth",
        r#"[{"kind": "adapted"}, {"kind": "gd", "h": 0.05}]"#,
        10.0,
    );
    let c = canvas(560, 420);
    fig.draw("spectrum", c.clone(), 1.0).unwrap();
    let px = Pixels::of(&c);
    assert!(px.ink() > 0.03, "ink {}", px.ink());
    // Each flow's curves pass where its values are (not a pixel count: the run stops at the first
    // tick past s = 10, so how far the curves reach depends on the browser's speed). A third of
    // the way: λ_min (solid, 2 px) within 2 px, ρ (dashed 5 on, 4 off) within 3 px.
    for (lane, color) in [(0, PALETTE[0]), (1, PALETTE[2])] {
        let t = trace(&mut host, lane);
        let smp = &t.samples[t.samples.len() / 3];
        for (what, v, r) in [("λmin", smp.lambda_min, 2), ("ρ", smp.rho, 3)] {
            let at = fig.pixel_of("spectrum", smp.s, v).unwrap();
            assert!(
                px.near(at[0], at[1], r, color, 40),
                "lane {lane}: {what} not drawn at s = {}, {what} = {v} (pixel {at:?})",
                smp.s
            );
        }
    }
    let text = fig.hover("spectrum", 300.0, 100.0).unwrap();
    assert!(text.contains("rank D = 32"), "{text}");
}

#[wasm_bindgen_test]
fn the_boundary_figure_fills_the_plane_and_marks_the_points() {
    let (mut fig, _) = figures("over-smooth", r#"[{"kind": "adapted"}]"#, 30.0);
    let c = canvas(420, 420);
    fig.draw("boundary", c.clone(), 1.0).unwrap();
    let px = Pixels::of(&c);
    assert!(
        px.ink() > 0.5,
        "the heatmap must cover the plane: ink {}",
        px.ink()
    );
    let data = pullback::math::data::Dataset::from_spec(
        &pullback::run::presets::find("over-smooth")
            .unwrap()
            .scenario
            .data,
        1,
    )
    .unwrap();
    for (x, &c) in data.input_rows().iter().zip(&data.labels).take(6) {
        let at = fig.pixel_of("boundary", x[0], x[1]).unwrap();
        assert!(
            px.near(at[0], at[1], 1, class_color(c), 12),
            "point {x:?} not in its class colour"
        );
    }
    // The plane's cells use pale tints of both class colours.
    let tint = |c: RGBColor| {
        let m = |v: u8| (v as f64 + (255.0 - v as f64) * 0.55).round() as u8;
        RGBColor(m(c.0), m(c.1), m(c.2))
    };
    assert!(
        px.count(tint(class_color(0)), 25) > 2000,
        "class 1 region missing"
    );
    assert!(
        px.count(tint(class_color(1)), 25) > 2000,
        "class 2 region missing"
    );
    // A click maps back to the input plane.
    let x0 = &data.input_rows()[0];
    let at = fig.pixel_of("boundary", x0[0], x0[1]).unwrap();
    let back = fig.input_at(at[0], at[1]).unwrap();
    assert!((back[0] - x0[0]).abs() < 1e-9 && (back[1] - x0[1]).abs() < 1e-9);
}

#[wasm_bindgen_test]
fn the_collapse_figure_draws_every_class() {
    let (mut fig, _) = figures("under-stationary", r#"[{"kind": "adapted"}]"#, 40.0);
    let c = canvas(560, 380);
    fig.draw("collapse", c.clone(), 1.0).unwrap();
    let px = Pixels::of(&c);
    assert!(px.ink() > 0.03, "ink {}", px.ink());
    for k in 0..3 {
        assert!(
            px.count(class_color(k), 10) > 100,
            "class {k} curves missing"
        );
    }
}

#[wasm_bindgen_test]
fn drawing_before_any_data_still_works() {
    let mut fig = Figures::new();
    for view in ["cost", "outputs", "spectrum", "boundary", "collapse"] {
        let c = canvas(300, 200);
        fig.draw(view, c.clone(), 1.0).unwrap();
        assert!(Pixels::of(&c).ink() > 0.005, "{view}: nothing drawn");
    }
    assert!(fig.draw("nope", canvas(100, 100), 1.0).is_err());
    assert!(
        fig.draw("cost", canvas(10, 10), 1.0).is_err(),
        "a tiny canvas is an error, not a panic"
    );
    // Bulk that is not a Float64Array is an error too, and the figures stay usable.
    let mut host = WorkerHost::new();
    let sc = pullback::run::presets::find("borderline").unwrap().scenario;
    let load = js_sys::Object::new();
    Reflect::set(&load, &"id".into(), &1.into()).unwrap();
    Reflect::set(&load, &"type".into(), &"load".into()).unwrap();
    Reflect::set(&load, &"scenario".into(), &sc.to_json().into()).unwrap();
    Reflect::set(
        &load,
        &"flows".into(),
        &JSON::parse(r#"[{"kind": "adapted"}]"#).unwrap(),
    )
    .unwrap();
    let out = host.handle(load.into()).unwrap();
    let info = get(&out.get(0), "info");
    let e = fig.load(info.clone(), JsValue::from(3)).unwrap_err();
    let msg: JsValue = e.into();
    assert!(
        format!("{msg:?}").contains("bulk: must be a Float64Array"),
        "{msg:?}"
    );
    fig.load(info, get(&out.get(0), "bulk")).unwrap();
    fig.draw("cost", canvas(300, 200), 1.0).unwrap();
}

fn send(fig: &mut Figures, host: &mut WorkerHost, json: &str) {
    let out = host.handle(JSON::parse(json).unwrap()).unwrap();
    feed(fig, out);
}

fn run_out(fig: &mut Figures, host: &mut WorkerHost) {
    send(fig, host, r#"{"id": 20, "type": "run_until"}"#);
    while host.wants_tick() {
        let out = host.tick().unwrap();
        feed(fig, out);
    }
}

/// Whether a pixel within `r` of `(x, y)` is dark (every channel below 60).
fn dark_near(px: &Pixels, x: f64, y: f64, r: i64) -> bool {
    px.near(x, y, r, RGBColor(0, 0, 0), 60)
}

#[wasm_bindgen_test]
fn the_slice_heatmap_shows_the_rest_point_and_the_escape_step() {
    let mut sc = pullback::run::presets::find("softplus-trapped")
        .unwrap()
        .scenario;
    sc.escape.auto = false;
    let (mut fig, mut host) = figures_of(sc, r#"[{"kind": "standard"}]"#, 0.0);
    run_out(&mut fig, &mut host);
    send(
        &mut fig,
        &mut host,
        r#"{"id": 21, "type": "critical", "lane": 0, "size": 41}"#,
    );
    // Before the escape: the slice with θ* in the middle and no step.
    let c = canvas(480, 420);
    fig.draw("critical", c.clone(), 1.0).unwrap();
    let px = Pixels::of(&c);
    assert!(
        px.ink() > 0.4,
        "the slice must fill the plane: ink {}",
        px.ink()
    );
    let centre = fig.pixel_of("critical", 0.0, 0.0).unwrap();
    // θ* is an open circle: white inside, a dark ring.
    assert_eq!(
        px.at(centre[0] as usize, centre[1] as usize),
        (255, 255, 255)
    );
    assert!(
        dark_near(&px, centre[0] + 6.0, centre[1], 1),
        "no ring around θ*"
    );
    // Blue cells (C below C(θ*) along the normal) and vermillion ones (above), saturated at the
    // extremes of each side.
    assert!(px.count(PALETTE[0], 12) > 20, "no saturated blue cells");
    assert!(
        px.count(PALETTE[1], 12) > 20,
        "no saturated vermillion cells"
    );
    // The hover readout names the cost at θ*.
    let text = fig.hover("critical", centre[0], centre[1]).unwrap();
    assert!(text.contains("C = 5.0000e-1"), "{text}");
    let panel = fig.critical_panel().unwrap();
    assert!(Reflect::get(&panel, &"can_escape".into())
        .unwrap()
        .is_truthy());

    // The Escape button's request: the step is drawn from θ* to θ₀' = (step, 0).
    send(
        &mut fig,
        &mut host,
        r#"{"id": 22, "type": "escape", "lane": 0}"#,
    );
    let c = canvas(480, 420);
    fig.draw("critical", c.clone(), 1.0).unwrap();
    let px = Pixels::of(&c);
    let t = trace(&mut host, 0);
    let (s, e) = t
        .events
        .iter()
        .find_map(|e| e.escape().map(|step| (e.s, step)))
        .unwrap();
    let step = e.step;
    let end = fig.pixel_of("critical", step, 0.0).unwrap();
    assert!(
        dark_near(&px, end[0], end[1], 2),
        "no triangle at θ₀' {end:?}"
    );
    let mid = fig.pixel_of("critical", 0.5 * step, 0.0).unwrap();
    assert!(dark_near(&px, mid[0], mid[1], 1), "no arrow from θ* to θ₀'");

    // The cost figure marks the escape: a dark triangle at (s, C after) and the jump.
    let c = canvas(560, 360);
    fig.draw("cost", c.clone(), 1.0).unwrap();
    let px = Pixels::of(&c);
    let after = e.cost_after;
    let at = fig.pixel_of("cost", s, after).unwrap();
    assert!(
        dark_near(&px, at[0], at[1], 3),
        "no escape marker at {at:?}"
    );

    // The singular spectrum: the flow's colour, the grey threshold, and a dotted escape line.
    let c = canvas(560, 420);
    fig.draw("singular", c.clone(), 1.0).unwrap();
    let px = Pixels::of(&c);
    assert!(px.count(PALETTE[1], 10) > 150, "σ curves missing");
    // The dashed grey threshold at 1e-10: grey pixels along its row (antialiasing lightens a
    // 1-px line, so any clearly grey pixel counts).
    let thr = fig.pixel_of("singular", 0.5 * s, 1e-10).unwrap();
    let grey = (thr[0] as usize - 40..thr[0] as usize + 40)
        .flat_map(|x| (thr[1] as usize - 1..=thr[1] as usize + 1).map(move |y| (x, y)))
        .filter(|&(x, y)| {
            let p = px.at(x, y);
            p.0 < 210
                && (p.0 as i32 - p.1 as i32).abs() < 10
                && (p.1 as i32 - p.2 as i32).abs() < 10
        })
        .count();
    assert!(grey > 20, "no threshold line at 1e-10: {grey} grey pixels");
}

#[wasm_bindgen_test]
fn the_layer_view_steps_through_the_stages_of_the_construction() {
    let (mut fig, mut host) = figures(
        "non-approximability",
        r#"[{"kind": "adapted"}, {"kind": "gd", "h": 0.5}]"#,
        0.0,
    );
    send(&mut fig, &mut host, r#"{"id": 30, "type": "construct"}"#);
    // Q + 1 = 4 stages, then the output layer.
    assert_eq!(fig.layer_positions(), 5);
    let panel = fig.construct_panel().unwrap();
    let rows: Array = Reflect::get(&panel, &"rows".into())
        .unwrap()
        .dyn_into()
        .unwrap();
    let cost = Reflect::get(&rows.get(0), &"cost".into()).unwrap();
    assert_eq!(cost.as_string().unwrap(), "0.000000");
    let session = pullback::run::session::Session::new(
        &pullback::run::presets::find("constructive")
            .unwrap()
            .scenario,
    )
    .unwrap();
    let model = session.model().clone();
    let c = pullback::math::construct::build(&model).unwrap();
    let mut inks = vec![];
    for l in 0..5 {
        fig.set_stage(l as f64);
        let cv = canvas(460, 420);
        fig.draw("construct", cv.clone(), 1.0).unwrap();
        let px = Pixels::of(&cv);
        inks.push(px.ink());
        if l == 4 {
            // The output layer: every target carries a cross.
            for y in &model.data.targets {
                let at = fig.pixel_of("construct", y[0], y[1]).unwrap();
                assert!(dark_near(&px, at[0], at[1], 2), "no target at {y:?}");
            }
            continue;
        }
        // Each class collapsed so far is one large disc of its colour at its apex.
        for cut in &c.cuts[..l] {
            let at = fig.pixel_of("construct", cut.apex[0], cut.apex[1]).unwrap();
            assert!(
                px.near(at[0], at[1], 1, class_color(cut.class), 12),
                "stage {l}: class {} not at its apex",
                cut.class
            );
            // The ring is 9 px out, give or take 2: plotters floors the centre to a whole pixel
            // (pixel_of does not) and the canvas strokes the 2 px ring between pixel edges.
            assert!(dark_near(&px, at[0] + 9.0, at[1], 2));
        }
        // A class not yet collapsed still shows its points where the stage puts them.
        if l < 3 {
            let j = (0..model.n())
                .find(|&j| model.data.labels[j] == c.cuts[l].class)
                .unwrap();
            let p = &c.stages[l][j];
            let at = fig.pixel_of("construct", p[0], p[1]).unwrap();
            assert!(px.near(at[0], at[1], 1, class_color(c.cuts[l].class), 12));
        }
    }
    assert!(inks.iter().all(|&i| i > 0.02), "{inks:?}");
}

#[wasm_bindgen_test]
fn the_homotopy_reparam_and_collapse_figures_draw_every_flow() {
    let (mut fig, mut host) = figures(
        "over-smooth",
        r#"[{"kind": "adapted"}, {"kind": "standard"}]"#,
        0.0,
    );
    send(
        &mut fig,
        &mut host,
        r#"{"id": 40, "type": "family", "alphas": [0, 0.5, 1]}"#,
    );
    send(&mut fig, &mut host, r#"{"id": 41, "type": "play"}"#);
    while host.wants_tick() && fig.s() < 20.0 {
        let out = host.tick().unwrap();
        feed(&mut fig, out);
    }
    let c = canvas(480, 420);
    fig.draw("homotopy", c.clone(), 1.0).unwrap();
    let px = Pixels::of(&c);
    for a in [0.0, 0.5, 1.0] {
        assert!(
            px.count(pullback::plot::alpha_color(a), 8) > 60,
            "α = {a} trails missing"
        );
    }
    let c = canvas(560, 460);
    fig.draw("reparam", c.clone(), 1.0).unwrap();
    let px = Pixels::of(&c);
    assert!(px.count(PALETTE[0], 10) > 150 && px.count(PALETTE[1], 10) > 150);
    // The adapted flow stays on the straight line: the readout shows it.
    let panel = fig.reparam_panel().unwrap();
    let readouts: Array = Reflect::get(&panel, &"readouts".into())
        .unwrap()
        .dyn_into()
        .unwrap();
    let adapted = Reflect::get(&readouts.get(0), &"value".into())
        .unwrap()
        .as_f64()
        .unwrap();
    assert!(adapted < 1e-6, "adapted off the line by {adapted}");
    let c = canvas(640, 380);
    fig.draw("collapse", c.clone(), 1.0).unwrap();
    let px = Pixels::of(&c);
    // Two panels, the class colours in both halves.
    for half in 0..2 {
        let n = (0..px.h)
            .flat_map(|y| (half * px.w / 2..(half + 1) * px.w / 2).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let p = px.at(x, y);
                let c = class_color(0);
                (p.0 as i32 - c.0 as i32).abs() <= 10
                    && (p.1 as i32 - c.1 as i32).abs() <= 10
                    && (p.2 as i32 - c.2 as i32).abs() <= 10
            })
            .count();
        assert!(n > 40, "class 1 missing in panel {half}: {n}");
    }
}

/// over-smooth with adapted and standard flows, the network diagram and the eigenmode view on,
/// run to `s ≥ s_to` and paused.
fn glance_figures(s_to: f64) -> (Figures, WorkerHost) {
    let sc = pullback::run::presets::find("over-smooth")
        .unwrap()
        .scenario;
    let mut host = WorkerHost::new();
    let mut fig = Figures::new();
    let load = js_sys::Object::new();
    Reflect::set(&load, &"id".into(), &1.into()).unwrap();
    Reflect::set(&load, &"type".into(), &"load".into()).unwrap();
    Reflect::set(&load, &"scenario".into(), &sc.to_json().into()).unwrap();
    let flows = r#"[{"kind": "adapted"}, {"kind": "standard"}]"#;
    Reflect::set(&load, &"flows".into(), &JSON::parse(flows).unwrap()).unwrap();
    feed(&mut fig, host.handle(load.into()).unwrap());
    send(
        &mut fig,
        &mut host,
        r#"{"id": 2, "type": "network", "lane": 0}"#,
    );
    send(
        &mut fig,
        &mut host,
        r#"{"id": 3, "type": "eigenmodes", "lane": 0}"#,
    );
    send(&mut fig, &mut host, r#"{"id": 4, "type": "play"}"#);
    while host.wants_tick() && fig.s() < s_to {
        let out = host.tick().unwrap();
        feed(&mut fig, out);
    }
    send(&mut fig, &mut host, r#"{"id": 5, "type": "pause"}"#);
    (fig, host)
}

#[wasm_bindgen_test]
fn the_network_diagram_draws_its_units_and_signed_edges() {
    let (mut fig, _) = glance_figures(20.0);
    let c = canvas(900, 420);
    fig.draw("network", c.clone(), 1.0).unwrap();
    let px = Pixels::of(&c);
    assert!(px.ink() > 0.1, "ink {}", px.ink());
    // Positive weights and activations blue, negative ones vermillion (full colour where a tanh
    // unit saturates or an edge is its layer's largest).
    assert!(px.count(PALETTE[0], 30) > 50, "no blue");
    assert!(px.count(PALETTE[1], 30) > 50, "no vermillion");
    let sum = fig.network_summary().unwrap();
    assert_eq!(get(&sum, "drawn").as_f64(), Some(36.0));
    let cols = Array::from(&get(&sum, "columns"));
    assert_eq!(cols.length(), 4);
    // The columns run left to right, and the pointer over a hidden unit reads its weights.
    let xs: Vec<f64> = cols
        .iter()
        .map(|c| get(&c, "x").as_f64().unwrap())
        .collect();
    assert!(xs.windows(2).all(|w| w[0] < w[1]), "{xs:?}");
    let top = get(&cols.get(1), "top").as_f64().unwrap();
    let hover = (0..60)
        .filter_map(|d| fig.hover("network", xs[1] + d as f64 - 30.0, top + 6.0))
        .next()
        .expect("a unit under the first hidden column");
    assert!(hover.contains("of hidden layer 1: bias"), "{hover}");
}

#[wasm_bindgen_test]
fn the_eigenmode_figure_draws_a_curve_per_mode() {
    let (mut fig, _) = glance_figures(30.0);
    let c = canvas(900, 420);
    fig.draw("eigenmodes", c.clone(), 1.0).unwrap();
    let px = Pixels::of(&c);
    assert!(px.ink() > 0.03, "ink {}", px.ink());
    use pullback::plot::eigenmodes::mode_color;
    for k in [0, 15, 31] {
        assert!(
            px.count(mode_color(k, 32), 12) > 20,
            "mode {k}'s colour is missing"
        );
    }
    let panel = fig.eigenmodes_panel().unwrap();
    let verdict = get(&panel, "verdict").as_string().unwrap();
    assert!(verdict.contains("exact, no linearization"), "{verdict}");
}

#[wasm_bindgen_test]
fn a_tune_keeps_the_history_and_renames_the_flow() {
    let (mut fig, mut host) = figures(
        "over-smooth",
        r#"[{"kind": "adapted"}, {"kind": "gd", "h": 0.05}]"#,
        2.0,
    );
    let s = fig.s();
    send(
        &mut fig,
        &mut host,
        r#"{"id": 30, "type": "tune", "h": 0.1}"#,
    );
    assert_eq!(fig.s(), s, "the history stays");
    let c = canvas(600, 360);
    fig.draw("cost", c.clone(), 1.0).unwrap();
    assert!(
        Pixels::of(&c).count(PALETTE[2], 10) > 20,
        "the gd curve is gone"
    );
}
