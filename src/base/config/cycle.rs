//! Cycles among the tasks' deps: found without recursion, and named in one line.

use std::collections::{BTreeMap, HashMap};

use super::task::TaskConfig;

/// A cycle among the tasks' deps, as the path that closes it (`a → b → a`), if any.
///
/// Depth-first with a stack of its own: a chain of deps as long as the file allows (tens
/// of thousands of tasks) must not overflow the thread's stack.
pub(super) fn find_cycle(tasks: &BTreeMap<String, TaskConfig>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    let mut marks: HashMap<&str, Mark> = HashMap::with_capacity(tasks.len());
    for root in tasks.keys() {
        if marks.contains_key(root.as_str()) {
            continue;
        }
        // The tasks being visited, each with how many of its deps were looked at.
        let mut path: Vec<(&str, usize)> = vec![(root, 0)];
        marks.insert(root, Mark::Visiting);
        while let Some((name, next)) = path.last_mut() {
            let Some(dep) = tasks[*name].deps.get(*next) else {
                marks.insert(name, Mark::Done);
                path.pop();
                continue;
            };
            *next += 1;
            // A step, or `setup`: no task, so no way back.
            let Some((dep, _)) = tasks.get_key_value(dep) else {
                continue;
            };
            match marks.get(dep.as_str()) {
                Some(Mark::Done) => {}
                Some(Mark::Visiting) => {
                    let start = path.iter().position(|(on, _)| on == dep).unwrap_or(0);
                    let mut cycle: Vec<String> =
                        path[start..].iter().map(|(on, _)| on.to_string()).collect();
                    cycle.push(dep.clone());
                    return Some(cycle);
                }
                None => {
                    marks.insert(dep, Mark::Visiting);
                    path.push((dep, 0));
                }
            }
        }
    }
    None
}

/// A cycle as `a → b → a`; a long one with its middle left out, so that the message stays
/// a line whatever the file holds.
pub(super) fn show_cycle(cycle: &[String]) -> String {
    const ENDS: usize = 4;
    if cycle.len() <= 3 * ENDS {
        return cycle.join(" → ");
    }
    let left_out = cycle.len() - 2 * ENDS;
    format!(
        "{} → … {left_out} more … → {}",
        cycle[..ENDS].join(" → "),
        cycle[cycle.len() - ENDS..].join(" → ")
    )
}

#[cfg(test)]
mod tests {

    use super::*;

    use crate::base::config::load::parse_tasks as parse;

    #[test]
    fn cycles_are_named_in_full() {
        let err = parse(
            "[tasks.a]\ndeps = [\"b\"]\n[tasks.b]\ndeps = [\"setup\", \"c\"]\n[tasks.c]\ndeps = [\"a\"]\n",
        )
        .unwrap_err();
        assert!(err.message.ends_with("a → b → c → a"), "{}", err.message);
        assert_eq!(err.location.as_ref().unwrap().0, 5);
        let err = parse("[tasks.self]\nrun = \"x\"\ndeps = [\"self\"]\n").unwrap_err();
        assert!(err.message.ends_with("self → self"), "{}", err.message);
    }

    /// A chain this deep overflowed the stack when the checks recursed.
    fn chain(depth: usize, last: &str) -> String {
        let mut source = String::new();
        for i in 0..depth - 1 {
            source.push_str(&format!("[tasks.t{i}]\ndeps = [\"t{}\"]\n", i + 1));
        }
        source.push_str(&format!("[tasks.t{}]\n{last}\n", depth - 1));
        source
    }

    #[test]
    fn a_deep_chain_is_checked_and_its_cycle_located() {
        parse(&chain(50_000, "run = \"true\"")).unwrap();
        let err = parse(&chain(50_000, "deps = [\"t0\"]")).unwrap_err();
        assert!(
            err.message
                .ends_with("t0 → t1 → t2 → t3 → … 49993 more … → t49997 → t49998 → t49999 → t0"),
            "{}",
            err.message
        );
        let (line, column, _) = err.location.clone().unwrap();
        assert_eq!((line, column), (5, 9));
    }

    #[test]
    fn a_diamond_is_no_cycle() {
        let mut tasks = BTreeMap::new();
        for (name, deps) in [
            ("a", vec!["b", "c"]),
            ("b", vec!["d"]),
            ("c", vec!["d"]),
            ("d", vec![]),
        ] {
            let task = TaskConfig {
                deps: deps.into_iter().map(String::from).collect(),
                ..TaskConfig::default()
            };
            tasks.insert(name.to_string(), task);
        }
        assert_eq!(find_cycle(&tasks), None);
    }
}
