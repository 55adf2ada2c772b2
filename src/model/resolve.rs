//! Finds the encoder's files: a local directory, the Hugging Face cache, or a
//! download with hf-hub (unless HF_HUB_OFFLINE=1).
use std::path::{Path, PathBuf};

use hf_hub::{Cache, Repo, RepoType};

use crate::error::{Error, Result};

pub const DEFAULT_MODEL: &str = "sentence-transformers/all-MiniLM-L6-v2";
pub const DEFAULT_REVISION: &str = "main";

/// Files the encoder needs, wherever they came from.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    /// The repo id or directory the user asked for.
    pub model_id: String,
    /// Commit hash in the cache, the revision asked for when downloaded, or "local".
    pub revision: String,
    pub config: PathBuf,
    pub tokenizer: PathBuf,
    pub weights: PathBuf,
    /// sentence-transformers' `sentence_bert_config.json`, when shipped: it
    /// sets the token window.
    pub sentence_config: Option<PathBuf>,
}

const REQUIRED: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];
const SENTENCE_CONFIG: &str = "sentence_bert_config.json";

/// The Hugging Face hub cache directory, as huggingface_hub resolves it.
pub fn hub_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HF_HUB_CACHE").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(home) = std::env::var_os("HF_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home).join("hub");
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("huggingface").join("hub")
}

fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .map(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        })
        .unwrap_or(false)
}

/// Resolves `model` (a repo id or a directory) at `revision`.
pub fn resolve(model: &str, revision: &str) -> Result<ModelFiles> {
    let dir = Path::new(model);
    if dir.is_dir() {
        return from_dir(model, dir, "local".to_string());
    }
    if looks_like_path(model) {
        return Err(Error::ModelUnavailable {
            model: model.to_string(),
            revision: revision.to_string(),
            reason: format!("directory {model} does not exist"),
        });
    }
    let cache_dir = hub_cache_dir();
    if let Some(files) = from_cache(&cache_dir, model, revision)? {
        return Ok(files);
    }
    if offline() {
        return Err(Error::ModelUnavailable {
            model: model.to_string(),
            revision: revision.to_string(),
            reason: format!(
                "not in the Hugging Face cache at {} and HF_HUB_OFFLINE is set",
                cache_dir.display()
            ),
        });
    }
    download(&cache_dir, model, revision)
}

fn looks_like_path(model: &str) -> bool {
    model.starts_with('.')
        || model.starts_with('/')
        || model.starts_with('~')
        || model.contains('\\')
}

fn from_dir(model_id: &str, dir: &Path, revision: String) -> Result<ModelFiles> {
    for f in REQUIRED {
        if !dir.join(f).is_file() {
            return Err(Error::ModelUnavailable {
                model: model_id.to_string(),
                revision,
                reason: format!("{} has no {f}", dir.display()),
            });
        }
    }
    let sentence = dir.join(SENTENCE_CONFIG);
    Ok(ModelFiles {
        model_id: model_id.to_string(),
        revision,
        config: dir.join("config.json"),
        tokenizer: dir.join("tokenizer.json"),
        weights: dir.join("model.safetensors"),
        sentence_config: sentence.is_file().then_some(sentence),
    })
}

/// Looks the repo up in the standard cache layout: `refs/<revision>` names a
/// snapshot, or the revision is itself a snapshot's commit hash.
fn from_cache(cache_dir: &Path, model: &str, revision: &str) -> Result<Option<ModelFiles>> {
    let repo = Repo::with_revision(model.to_string(), RepoType::Model, revision.to_string());
    let cache = Cache::new(cache_dir.to_path_buf());
    let cached = cache.repo(repo.clone());
    if let Some(config) = cached.get("config.json")
        && let Some(snapshot) = config.parent()
    {
        let commit = snapshot
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| revision.to_string());
        return complete(model, snapshot, commit);
    }
    let snapshot = cache_dir
        .join(repo.folder_name())
        .join("snapshots")
        .join(revision);
    if snapshot.join("config.json").exists() {
        return complete(model, &snapshot, revision.to_string());
    }
    Ok(None)
}

fn complete(model: &str, snapshot: &Path, commit: String) -> Result<Option<ModelFiles>> {
    // A snapshot with some files missing is treated as absent, so a download
    // (or the offline error) follows instead of a confusing load failure.
    if REQUIRED.iter().all(|f| snapshot.join(f).exists()) {
        from_dir(model, snapshot, commit).map(Some)
    } else {
        Ok(None)
    }
}

fn download(cache_dir: &Path, model: &str, revision: &str) -> Result<ModelFiles> {
    let unavailable = |reason: String| Error::ModelUnavailable {
        model: model.to_string(),
        revision: revision.to_string(),
        reason,
    };
    tracing::info!(model, revision, "downloading the encoder with hf-hub");
    let api = hf_hub::api::sync::ApiBuilder::from_cache(Cache::new(cache_dir.to_path_buf()))
        .with_progress(false)
        .build()
        .map_err(|e| unavailable(e.to_string()))?;
    let repo = api.repo(Repo::with_revision(
        model.to_string(),
        RepoType::Model,
        revision.to_string(),
    ));
    let mut paths = Vec::new();
    for f in REQUIRED {
        paths.push(repo.get(f).map_err(|e| unavailable(format!("{f}: {e}")))?);
    }
    let sentence_config = repo.get(SENTENCE_CONFIG).ok();
    let [config, tokenizer, weights]: [PathBuf; 3] = paths
        .try_into()
        .map_err(|_| unavailable("incomplete download".to_string()))?;
    Ok(ModelFiles {
        model_id: model.to_string(),
        revision: revision.to_string(),
        config,
        tokenizer,
        weights,
        sentence_config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch_model(dir: &Path) {
        for f in REQUIRED {
            std::fs::write(dir.join(f), b"{}").unwrap();
        }
    }

    #[test]
    fn local_directory_is_used_as_is() {
        let tmp = tempfile::tempdir().unwrap();
        touch_model(tmp.path());
        let model = tmp.path().to_str().unwrap();
        let files = resolve(model, "main").unwrap();
        assert_eq!(files.revision, "local");
        assert_eq!(files.weights, tmp.path().join("model.safetensors"));
    }

    #[test]
    fn incomplete_local_directory_names_the_missing_file() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("config.json"), b"{}").unwrap();
        let err = resolve(tmp.path().to_str().unwrap(), "main").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("tokenizer.json"), "{msg}");
        assert!(msg.contains("scripts/fetch-model"), "{msg}");
    }

    #[test]
    fn cache_layout_resolves_through_refs() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("models--org--tiny");
        let snap = repo.join("snapshots").join("abc123");
        std::fs::create_dir_all(&snap).unwrap();
        touch_model(&snap);
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::write(repo.join("refs").join("main"), "abc123").unwrap();
        let files = from_cache(tmp.path(), "org/tiny", "main").unwrap().unwrap();
        assert_eq!(files.revision, "abc123");
        // A commit hash works as a revision too.
        let files = from_cache(tmp.path(), "org/tiny", "abc123")
            .unwrap()
            .unwrap();
        assert_eq!(files.config, snap.join("config.json"));
        assert!(
            from_cache(tmp.path(), "org/other", "main")
                .unwrap()
                .is_none()
        );
    }
}
