//! The context window: estimating a request's prompt tokens before sending it, and
//! recognising the servers' "prompt too long" errors.

/// Context window assumed for a model that neither the config nor the model table knows.
pub const DEFAULT_CONTEXT_WINDOW: u64 = 128_000;

/// Tokens counted per message for role markers and separators.
const PER_MESSAGE_TOKENS: f64 = 4.0;

/// Estimates prompt tokens as characters × a ratio: 1/4 until the server has reported
/// the true count of a request, then the ratio measured on the last request.
#[derive(Clone, Debug)]
pub struct TokenEstimator {
    tokens_per_char: f64,
}

impl Default for TokenEstimator {
    fn default() -> Self {
        TokenEstimator {
            tokens_per_char: 0.25,
        }
    }
}

impl TokenEstimator {
    /// Estimated tokens of messages whose texts total `chars` characters.
    pub fn estimate(&self, chars: usize, messages: usize) -> u64 {
        (chars as f64 * self.tokens_per_char + messages as f64 * PER_MESSAGE_TOKENS).ceil() as u64
    }

    /// Learns from a request of `chars` characters in `messages` messages that the
    /// server counted as `prompt_tokens`.
    pub fn calibrate(&mut self, chars: usize, messages: usize, prompt_tokens: u64) {
        let text_tokens = prompt_tokens as f64 - messages as f64 * PER_MESSAGE_TOKENS;
        if chars >= 200 && text_tokens > 0.0 {
            // Bounded, so one odd count cannot make the check useless.
            self.tokens_per_char = (text_tokens / chars as f64).clamp(0.1, 1.0);
        }
    }

    /// The current ratio.
    pub fn tokens_per_char(&self) -> f64 {
        self.tokens_per_char
    }
}

/// Whether an error response says the prompt does not fit the context window: OpenAI's
/// `context_length_exceeded`, vLLM's "maximum context length", llama.cpp's
/// `exceed_context_size_error`, Anthropic's "prompt is too long".
pub fn is_context_error(status: u16, body: &str) -> bool {
    if !(400..500).contains(&status) || status == 429 {
        return false;
    }
    let b = body.to_ascii_lowercase();
    [
        "context_length_exceeded",
        "maximum context length",
        "context length exceeded",
        "prompt is too long",
        "exceed_context_size",
        "exceeds the available context size",
        "too many input tokens",
        "input is too long",
    ]
    .iter()
    .any(|p| b.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_and_calibration() {
        let mut e = TokenEstimator::default();
        assert_eq!(e.estimate(4000, 2), 1008);
        e.calibrate(4000, 2, 2008);
        assert!((e.tokens_per_char() - 0.5).abs() < 1e-9);
        e.calibrate(10, 1, 1000); // too small to learn from
        assert!((e.tokens_per_char() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn recognises_context_errors() {
        assert!(is_context_error(
            400,
            r#"{"error":{"code":"context_length_exceeded","message":"..."}}"#
        ));
        assert!(is_context_error(
            400,
            "This model's maximum context length is 4096 tokens. However, you requested 5000"
        ));
        assert!(is_context_error(
            400,
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#
        ));
        assert!(!is_context_error(500, "maximum context length"));
        assert!(!is_context_error(400, "invalid temperature"));
    }
}
