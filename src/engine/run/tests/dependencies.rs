//! Steps that build on others: knock-on runs and `survey`'s "will run first"; what stops
//! a build before it starts.

use super::*;

#[test]
fn a_dependency_that_ran_again_makes_its_dependents_run() {
    let fx = Fixture::new();
    let venv = step("venv").part("requirements", "six");
    let app = step("app").after(&["venv"]);
    let docs = step("docs");
    fx.build(&[&venv, &app, &docs]).unwrap();

    venv.set_part("requirements", "six idna");
    assert_eq!(fx.build(&[&venv]).unwrap(), ["venv"]);
    let decision = fx.decide(&app);
    assert_eq!(
        said(decision.reasons()),
        [reason(ReasonKind::DependencyRan, "venv ran again")]
    );
    assert_eq!(decision.reasons()[0].key.as_deref(), Some("venv"));
    assert_eq!(fx.build(&[&venv, &app, &docs]).unwrap(), ["app"]);
}

#[test]
fn a_build_runs_the_dependents_of_a_step_it_runs() {
    let fx = Fixture::new();
    let venv = step("venv").part("requirements", "six");
    let app = step("app").after(&["venv"]);
    let bundle = step("bundle").after(&["app"]);
    let docs = step("docs");
    fx.build(&[&venv, &app, &bundle, &docs]).unwrap();

    venv.set_part("requirements", "six idna");
    assert_eq!(
        fx.build(&[&venv, &app, &bundle, &docs]).unwrap(),
        ["venv", "app", "bundle"]
    );
    assert_eq!(
        fx.build(&[&venv, &app, &bundle, &docs]).unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn a_dependency_without_a_finished_run_is_named() {
    let fx = Fixture::new();
    let venv = step("venv").part("requirements", "six");
    let app = step("app").after(&["venv"]);
    fx.build(&[&venv, &app]).unwrap();

    venv.set_part("requirements", "six idna");
    venv.fails.set(true);
    fx.build(&[&venv, &app]).unwrap_err();
    assert_eq!(
        fx.reasons(&app),
        [reason(ReasonKind::DependencyNotRun, "venv has not run")]
    );
}

#[test]
fn survey_says_which_step_will_run_first_and_runs_nothing() {
    let fx = Fixture::new();
    let venv = step("venv").part("requirements", "six");
    let app = step("app").after(&["venv"]).output("dist/app");
    let bundle = step("bundle").after(&["app"]);
    let docs = step("docs");
    fx.build(&[&venv, &app, &bundle, &docs]).unwrap();

    venv.set_part("requirements", "six idna");
    let verdicts = fx.survey(&[&venv, &app, &bundle, &docs]).unwrap();
    let by_step: Vec<(&str, Vec<(ReasonKind, String)>)> = verdicts
        .iter()
        .map(|v| (v.name.as_str(), said(&v.reasons)))
        .collect();
    assert_eq!(
        by_step,
        [
            (
                "venv",
                vec![reason(
                    ReasonKind::Changed,
                    "requirements changed: six → six idna"
                )]
            ),
            (
                "app",
                vec![reason(ReasonKind::DependencyStale, "venv will run first")]
            ),
            (
                "bundle",
                vec![reason(ReasonKind::DependencyStale, "app will run first")]
            ),
            ("docs", vec![]),
        ]
    );
    assert_eq!(verdicts[1].reasons[0].key.as_deref(), Some("venv"));
    assert_eq!(verdicts[1].outputs, ["dist/app"]);
    let runs: Vec<usize> = [&venv, &app, &bundle, &docs]
        .iter()
        .map(|s| s.runs.get())
        .collect();
    assert_eq!(runs, [1, 1, 1, 1]);
}

#[test]
fn survey_cannot_tell_after_a_stale_step_and_fails_after_fresh_ones() {
    let fx = Fixture::new();
    let venv = step("venv").part("requirements", "six");
    let app = step("app").after(&["venv"]);
    fx.build(&[&venv, &app]).unwrap();
    app.fingerprint_fails.set(true);

    let err = fx.survey(&[&venv, &app]).unwrap_err();
    assert_eq!(format!("{err:#}"), "no interpreter yet");

    venv.set_part("requirements", "six idna");
    let verdicts = fx.survey(&[&venv, &app]).unwrap();
    assert_eq!(
        said(&verdicts[1].reasons),
        [reason(
            ReasonKind::Unknown,
            "cannot tell until the steps before it run (no interpreter yet)"
        )]
    );
}

#[test]
fn a_fingerprint_that_cannot_be_computed_stops_the_build_naming_the_step() {
    let fx = Fixture::new();
    let app = step("app");
    app.fingerprint_fails.set(true);

    let err = fx.build(&[&app]).unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        "cannot tell whether step `app` is up to date: no interpreter yet"
    );
    assert_eq!(app.runs.get(), 0);
}

#[test]
fn a_failing_preflight_stops_the_build_before_any_step_runs() {
    let fx = Fixture::new();
    let venv = step("venv");
    let bundle = step("bundle").after(&["venv"]).preflight_fails();

    let err = fx.build(&[&venv, &bundle]).unwrap_err();
    assert_eq!(format!("{err:#}"), "bundle has a bad output path");
    assert_eq!(venv.runs.get(), 0);
    assert_eq!(
        fx.reasons(&venv),
        [reason(ReasonKind::FirstRun, "first run")]
    );
}
