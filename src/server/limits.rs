//! Request limits. Each violation names the limit and the flag that sets it.
use tonic::Status;

/// Double quotation marks and guillemets; apostrophe-like single marks are
/// left out because prose is full of them.
const QUOTE_MARKS: &[char] = &[
    '"', '\u{201c}', '\u{201d}', '\u{201e}', '\u{201f}', '\u{ab}', '\u{bb}', '\u{2039}', '\u{203a}',
];

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `--max-article-bytes`
    pub max_article_bytes: usize,
    /// `--max-statements`: statements per ClassifyStatements request.
    pub max_statements: usize,
    /// `--max-statement-bytes`: bytes per statement given to ClassifyStatements.
    pub max_statement_bytes: usize,
    /// `--max-quotes`: quotations per article.
    pub max_quotes: usize,
    /// Articles of one AnalyzeArticles stream in flight at once.
    pub stream_concurrency: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_article_bytes: 1 << 20,
            max_statements: 1024,
            max_statement_bytes: 64 << 10,
            max_quotes: 2000,
            stream_concurrency: 8,
        }
    }
}

impl Limits {
    pub fn check_article(&self, text: &str) -> Result<(), Status> {
        if text.len() > self.max_article_bytes {
            return Err(Status::invalid_argument(format!(
                "article is {} bytes, over the limit of {} (--max-article-bytes)",
                text.len(),
                self.max_article_bytes
            )));
        }
        // Extraction time grows with the square of the quotation marks in
        // some arrangements (a wall of opening marks, then closing ones), so
        // marks far beyond what `max_quotes` quotations need are refused first.
        let marks = text.chars().filter(|c| QUOTE_MARKS.contains(c)).count();
        let allowed = self.max_quotes.saturating_mul(4).max(64);
        if marks > allowed {
            return Err(Status::invalid_argument(format!(
                "article has {marks} quotation marks, over the limit of {allowed} \
                 (4 per quotation allowed by --max-quotes)"
            )));
        }
        Ok(())
    }

    pub fn check_quotes(&self, n: usize) -> Result<(), Status> {
        if n > self.max_quotes {
            return Err(Status::invalid_argument(format!(
                "article has {n} quotations, over the limit of {} (--max-quotes)",
                self.max_quotes
            )));
        }
        Ok(())
    }

    pub fn check_statements(&self, statements: &[String]) -> Result<(), Status> {
        if statements.len() > self.max_statements {
            return Err(Status::invalid_argument(format!(
                "{} statements in one request, over the limit of {} (--max-statements)",
                statements.len(),
                self.max_statements
            )));
        }
        if let Some((i, s)) = statements
            .iter()
            .enumerate()
            .find(|(_, s)| s.len() > self.max_statement_bytes)
        {
            return Err(Status::invalid_argument(format!(
                "statement {i} is {} bytes, over the limit of {} (--max-statement-bytes)",
                s.len(),
                self.max_statement_bytes
            )));
        }
        if let Some(i) = statements.iter().position(|s| s.trim().is_empty()) {
            return Err(Status::invalid_argument(format!("statement {i} is empty")));
        }
        Ok(())
    }
}
