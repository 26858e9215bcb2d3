//! The URL hash: every setting round-trips through it, readable keys stay readable, `scenario=`
//! appears exactly when they cannot pin the scenario down, and a broken hash names each bad key
//! while the rest still applies.

use pullback::app::edit;
use pullback::app::share::{base64url_decode, Settings};
use pullback::app::view::View;
use pullback::run::presets;

fn round_trip(s: &Settings) -> Settings {
    let hash = s.to_hash();
    let (back, errors) = Settings::from_hash(&format!("#{hash}"));
    assert!(errors.is_empty(), "{hash}: {errors:?}");
    assert_eq!(&back, s, "{hash}");
    back
}

#[test]
fn defaults_are_readable_and_round_trip() {
    let s = Settings::default();
    let hash = s.to_hash();
    assert_eq!(
        hash,
        "preset=over-smooth&data=moons&N=16&noise=0.08&seed=1&net=16,16&act=tanh&eps=0.00000001&smax=160\
         &flows=adapted,standard&view=network,cost,outputs,spectrum,boundary,collapse&speed=max"
    );
    round_trip(&s);
    assert!(!s.edited());
    let (empty, errors) = Settings::from_hash("");
    assert!(errors.is_empty());
    assert_eq!(empty, s);
}

#[test]
fn every_preset_round_trips() {
    for p in presets::all() {
        let s = Settings::from_preset(p.name).unwrap();
        let hash = s.to_hash();
        assert!(hash.starts_with(&format!("preset={}&", p.name)), "{hash}");
        round_trip(&s);
        // The preset's name pins down even explicit points and θ₀: no scenario= needed.
        assert!(!hash.contains("scenario="), "{}: {hash}", p.name);
    }
}

#[test]
fn the_issue_example_reads_as_written() {
    let (s, errors) =
        Settings::from_hash("#preset=over-smooth&flows=adapted,standard&view=cost,outputs&N=20");
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(s.flows, vec!["adapted", "standard"]);
    assert_eq!(s.views, vec![View::Cost, View::Outputs]);
    assert_eq!(edit::describe(&s.scenario).unwrap().n, 20);
    round_trip(&s);
}

#[test]
fn edits_stay_readable_and_round_trip() {
    let mut s = Settings::default();
    for (k, v) in [
        ("data", "blobs"),
        ("Q", "4"),
        ("N", "40"),
        ("noise", "0.2"),
        ("seed", "7"),
        ("net", "8,8,8"),
        ("act", "relu"),
        ("eps", "1e-6"),
        ("flows", "adapted,gd,homotopy"),
        ("h", "0.1"),
        ("alpha", "0.25"),
        ("view", "cost,collapse"),
        ("speed", "5"),
        ("pair", "2,4"),
        ("focus", "homotopy"),
        ("autoplay", "1"),
    ] {
        s.set(k, v).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
    }
    assert!(s.edited());
    let d = edit::describe(&s.scenario).unwrap();
    assert_eq!((d.n, d.q, d.m), (40, 4, 2));
    assert_eq!(s.scenario.net.widths, vec![2, 8, 8, 8, 4]);
    assert_eq!(d.k, 2 * 8 + 8 + 8 * 8 + 8 + 8 * 8 + 8 + 8 * 4 + 4);
    let hash = s.to_hash();
    assert!(!hash.contains("scenario="), "{hash}");
    assert!(hash.contains("h=0.1") && hash.contains("alpha=0.25") && hash.contains("pair=2,4"));
    round_trip(&s);
    assert_eq!(s.lanes().len(), 3);
    assert_eq!(s.focus_index(), 2);
    // Clusters in R^5: the input width follows the data.
    s.set("data", "clusters").unwrap();
    s.set("dim", "5").unwrap();
    assert_eq!(s.scenario.net.widths[0], 5);
    round_trip(&s);
}

#[test]
fn clicked_points_travel_in_scenario() {
    let mut s = Settings::default();
    s.scenario = edit::add_point(&s.scenario, &[0.25, 0.5], 1).unwrap();
    let hash = s.to_hash();
    let b64 = hash.split("scenario=").nth(1).expect("scenario= present");
    let json = String::from_utf8(base64url_decode(b64).unwrap()).unwrap();
    assert!(json.contains("\"kind\":\"custom\""), "{json}");
    // Custom data have no readable data keys, the rest stays readable.
    assert!(!hash.contains("data=") && hash.contains("seed=1") && hash.contains("net=16,16"));
    let back = round_trip(&s);
    assert_eq!(edit::describe(&back.scenario).unwrap().n, 17);
    // Keys that need a generator are refused by name.
    let mut t = back.clone();
    let e = t.set("N", "30").unwrap_err();
    assert!(
        e.to_string().starts_with("N: the data are custom points"),
        "{e}"
    );
}

#[test]
fn a_broken_hash_names_each_bad_key_and_keeps_the_rest() {
    let (s, errors) = Settings::from_hash(
        "#preset=nope&N=abc&flows=adapted,foo&zzz=1&view=&speed=-3&seed=12&alpha=2&pair=1,1&embed=yes",
    );
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        vec!["preset", "N", "flows", "alpha", "view", "speed", "pair", "embed", "zzz"],
        "{errors:?}"
    );
    let msg = |k: &str| errors.iter().find(|e| e.key == k).unwrap().to_string();
    assert!(msg("preset").starts_with("preset: no preset \"nope\"; one of over-smooth"));
    assert_eq!(msg("N"), "N: \"abc\" is not a whole number");
    assert!(msg("flows").contains("unknown flow \"foo\""));
    assert!(msg("zzz").starts_with("zzz: unknown key"));
    // What was good applied; the rest is default.
    assert_eq!(s.scenario.seed, 12);
    assert_eq!(s.flows, Settings::default().flows);
    assert_eq!(s.speed, None);
    assert!(!s.embed);
}

#[test]
fn conflicting_or_corrupt_scenarios_fall_back() {
    let (s, errors) = Settings::from_hash("#data=moons&Q=3");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].key, "Q");
    assert!(
        errors[0].reason.contains("moons has Q = 2"),
        "{:?}",
        errors[0]
    );
    assert_eq!(s.scenario, Settings::default().scenario);

    let (s, errors) = Settings::from_hash("#scenario=e30");
    assert_eq!(errors[0].key, "scenario");
    assert!(
        errors[0].reason.contains("missing field"),
        "{:?}",
        errors[0]
    );
    assert_eq!(s.scenario, Settings::default().scenario);

    let (_, errors) = Settings::from_hash("#scenario=%%%");
    assert_eq!(errors[0].key, "scenario");
    let (_, errors) = Settings::from_hash("#scenario=ab$d");
    assert!(
        errors[0].reason.contains("not base64url"),
        "{:?}",
        errors[0]
    );

    // A scenario whose network does not fit its data names the field inside scenario.
    let mut bad = Settings::default().scenario;
    bad.net.widths[0] = 3;
    let b64 =
        pullback::app::share::base64url_encode(serde_json::to_string(&bad).unwrap().as_bytes());
    let (_, errors) = Settings::from_hash(&format!("#scenario={b64}"));
    assert_eq!(errors[0].key, "scenario");
    assert!(
        errors[0].reason.starts_with("scenario.net.widths[0]: is 3"),
        "{:?}",
        errors[0]
    );
}

#[test]
fn settings_names_match_the_hash() {
    let s = Settings::default();
    assert_eq!(s.get("N").as_deref(), Some("16"));
    assert_eq!(s.get("net").as_deref(), Some("16,16"));
    assert_eq!(s.get("speed").as_deref(), Some("max"));
    assert_eq!(s.get("Q"), None, "moons have no Q key");
    assert_eq!(s.get("bogus"), None);
    let mut t = s.clone();
    let e = t.set("net", "4,0").unwrap_err();
    assert_eq!(e.to_string(), "net[1]: must be in 1..=4096, got 0");
    assert_eq!(t, s, "a failed set changes nothing");
}

#[test]
fn the_escape_toggle_and_the_layer_stage_live_in_the_hash() {
    // A preset with automatic escape: turning it off writes escape=0, and the preset plus the
    // readable keys still pin the scenario down (no scenario=).
    let mut s = Settings::from_preset("softplus-trapped").unwrap();
    assert!(s.scenario.escape.auto);
    assert!(s.to_hash().contains("&escape=1"), "{}", s.to_hash());
    s.set("escape", "0").unwrap();
    assert!(!s.scenario.escape.auto);
    assert_eq!(
        s.scenario.escape.max, 3,
        "the preset's other escape settings stay"
    );
    let hash = s.to_hash();
    assert!(
        hash.contains("&escape=0") && !hash.contains("scenario="),
        "{hash}"
    );
    round_trip(&s);
    assert_eq!(s.get("escape").as_deref(), Some("0"));
    // On a preset without it, escape=1 turns it on; the default writes nothing.
    let mut s = Settings::default();
    assert!(!s.to_hash().contains("escape="));
    assert_eq!(s.get("escape").as_deref(), Some("0"));
    s.set("escape", "1").unwrap();
    assert!(s.scenario.escape.auto && s.to_hash().contains("&escape=1"));
    round_trip(&s);
    let e = s.set("escape", "maybe").unwrap_err();
    assert_eq!(e.to_string(), "escape: must be 0 or 1, got \"maybe\"");
    // The layer view's position.
    s.set("stage", "3").unwrap();
    assert!(s.to_hash().ends_with("&stage=3"), "{}", s.to_hash());
    round_trip(&s);
    assert!(s.set("stage", "-1").is_err() && s.set("stage", "65").is_err());
    let (_, errors) = Settings::from_hash("#stage=x&escape=2");
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, vec!["escape", "stage"]);
}

#[test]
fn presets_bring_the_views_that_show_them() {
    let s = Settings::from_preset("softplus-trapped").unwrap();
    assert_eq!(
        s.views,
        vec![
            View::Network,
            View::Cost,
            View::Outputs,
            View::Spectrum,
            View::Boundary,
            View::Collapse,
            View::Singular,
            View::Critical
        ]
    );
    let mut s = Settings::from_preset("non-approximability").unwrap();
    assert!(s.views.contains(&View::Construct));
    // Switching presets drops the views the previous one brought.
    s.choose_preset("softplus-trapped").unwrap();
    assert!(!s.views.contains(&View::Construct));
    assert!(s.views.contains(&View::Critical) && s.views.contains(&View::Singular));
    s.set("view", "critical").unwrap();
    s.choose_preset("over-smooth").unwrap();
    assert_eq!(s.views, View::DEFAULT.to_vec(), "never without a view");
    let s = Settings::from_preset("under-stationary").unwrap();
    assert!(s.views.contains(&View::Homotopy));
    // A link's own view= wins.
    let (s, errors) = Settings::from_hash("#preset=softplus-trapped&view=cost");
    assert!(errors.is_empty());
    assert_eq!(s.views, vec![View::Cost]);
    // Every new view parses.
    let (s, errors) = Settings::from_hash("#view=singular,reparam,homotopy,critical,construct");
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(s.views.len(), 5);
}
