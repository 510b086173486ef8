//! The runner is scoped to the step the engine works on: a step's commands go to its own
//! log without the step passing its name.

use std::ffi::OsString;

use super::*;

/// A step whose run echoes its name through the runner.
fn echoing(name: &'static str) -> TestStep {
    step(name).output(&format!("out/{name}")).hook(move |cx| {
        cx.runner.run(
            "sh",
            &[OsString::from("-c"), format!("echo ran {name}").into()],
        )
    })
}

#[test]
fn each_step_s_commands_go_to_its_own_log() {
    let fixture = Fixture::new();
    let (first, second) = (echoing("first"), echoing("second"));
    assert_eq!(
        fixture.build(&[&first, &second]).unwrap(),
        ["first", "second"]
    );
    let log =
        |name: &str| fs::read_to_string(fixture.project.log_dir().join(format!("{name}.log")));
    let (first_log, second_log) = (log("first").unwrap(), log("second").unwrap());
    assert!(first_log.contains("ran first\n"), "{first_log}");
    assert!(!first_log.contains("ran second"), "{first_log}");
    assert!(second_log.contains("ran second\n"), "{second_log}");
    assert!(!second_log.contains("ran first"), "{second_log}");
}
