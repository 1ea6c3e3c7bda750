//! Embedding throughput of the candle sentence embedder (run by scripts/bench/embed.sh):
//! `EMBED_BENCH_MODEL` (a model directory), `EMBED_BENCH_SENTENCES` (a JSON list of
//! texts, repeated), `EMBED_BENCH_TEXTS` (how many to embed), `EMBED_BENCH_BATCH` (32:
//! `embed` of the whole list, batched as sentence-transformers does; 1: one `embed_one`
//! call per text, as `memory_read` does). Prints one JSON line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use mlgym_tasks::text::SentenceEmbedder;

#[test]
#[ignore = "benchmark: run by scripts/bench/embed.sh"]
fn embed_bench() {
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
    let t_load = Instant::now();
    let e = SentenceEmbedder::load(std::path::Path::new(&var("EMBED_BENCH_MODEL"))).unwrap();
    let load_s = t_load.elapsed().as_secs_f64();
    let sentences: Vec<String> =
        serde_json::from_slice(&std::fs::read(var("EMBED_BENCH_SENTENCES")).unwrap()).unwrap();
    let n: usize = var("EMBED_BENCH_TEXTS").parse().unwrap();
    let batch: usize = var("EMBED_BENCH_BATCH").parse().unwrap();
    let texts: Vec<&str> = (0..n)
        .map(|i| sentences[i % sentences.len()].as_str())
        .collect();
    let _ = e.embed(&texts[..sentences.len().min(n)]).unwrap(); // warm-up
    let t0 = Instant::now();
    let out = if batch == 1 {
        texts
            .iter()
            .map(|t| e.embed_one(t).unwrap())
            .collect::<Vec<_>>()
    } else {
        e.embed(&texts).unwrap()
    };
    let dt = t0.elapsed().as_secs_f64();
    assert_eq!(out.len(), n);
    let tokens: usize = texts.iter().map(|t| e.tokenize(t).unwrap().len()).sum();
    println!(
        "{}",
        serde_json::json!({
            "impl": "ours", "batch": batch, "texts": n, "seconds": dt, "embeddings_per_s": n as f64 / dt,
            "load_s": load_s, "mean_tokens": tokens as f64 / n as f64,
            "threads": candle_core::utils::get_num_threads(),
        })
    );
}
