//! Parsed queries for the HTTP endpoint, checked once and remembered by their text, and
//! Apollo's Automatic Persisted Queries (queries remembered by their SHA-256).
//!
//! A client sends the same few query texts over and over; parsing one (pest) and
//! checking its depth cost more than running many of them. `Documents::prepare` hands
//! async-graphql a parsed document, so the HTTP schema needs no parse-time extension
//! (an extension would also wrap every field's resolver). A remembered document that
//! holds only queries and once ran without errors has passed async-graphql's full
//! validation; later requests with it skip the rules that depend on the document alone
//! (as Apollo Server's document store does). Mutations are validated every time: a
//! request that fails validation must not run any of its fields.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextPrepareRequest, NextValidation,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Request, ServerError, ServerResult, ValidationResult};
use lru::LruCache;
use serde::Deserialize;
use sha2::Digest;

use super::limits;
use crate::error::code_uncoded_errors;

/// Distinct query texts remembered (least recently used ones are forgotten).
pub const CACHED_QUERIES: usize = 256;
/// Longer query texts are parsed every time and not registered as persisted queries
/// (a client then simply sends the text again): the caches' memory stays bounded, to a
/// few tens of MB at most, whatever clients send.
pub const MAX_CACHED_QUERY_BYTES: usize = 8 * 1024;
/// Automatic Persisted Queries remembered.
pub const PERSISTED_QUERIES: usize = 256;

/// A parsed, depth-checked document, and whether it passed full validation.
#[derive(Debug)]
pub struct Document {
    document: ExecutableDocument,
    /// Only queries: nothing it runs writes, so it may skip validation once validated.
    read_only: bool,
    validated: AtomicBool,
}

impl Document {
    fn new(document: ExecutableDocument) -> Self {
        let read_only = document
            .operations
            .iter()
            .all(|(_, operation)| operation.node.ty == OperationType::Query);
        Self {
            document,
            read_only,
            validated: AtomicBool::new(false),
        }
    }

    /// Whether the document may run with the validation-light schema.
    pub fn is_validated(&self) -> bool {
        self.read_only && self.validated.load(Ordering::Relaxed)
    }

    /// The operation a request naming `name` (its operationName) selects: its type and
    /// its name in the document. None when it selects none (an unknown name, or several
    /// operations and no name), as async-graphql selects.
    pub fn operation(&self, name: Option<&str>) -> Option<(OperationType, Option<&str>)> {
        match (&self.document.operations, name) {
            (DocumentOperations::Single(operation), None) => Some((operation.node.ty, None)),
            (DocumentOperations::Multiple(operations), Some(name)) => operations
                .get_key_value(name)
                .map(|(name, operation)| (operation.node.ty, Some(name.as_str()))),
            (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => operations
                .iter()
                .next()
                .map(|(name, operation)| (operation.node.ty, Some(name.as_str()))),
            _ => None,
        }
    }

    /// Records that a request with this document ran without errors (so it passed
    /// full validation).
    pub fn validated(&self) {
        self.validated.store(true, Ordering::Relaxed);
    }
}

type Cache = Mutex<LruCache<String, Arc<Document>>>;

pub struct Documents {
    parsed: Cache,
    persisted: Cache,
}

/// `extensions.persistedQuery` of Apollo's protocol.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PersistedQuery {
    version: i32,
    sha256_hash: String,
}

impl Default for Documents {
    fn default() -> Self {
        let cache = |size| {
            Mutex::new(LruCache::new(
                NonZeroUsize::new(size).unwrap_or(NonZeroUsize::MIN),
            ))
        };
        Self {
            parsed: cache(CACHED_QUERIES),
            persisted: cache(PERSISTED_QUERIES),
        }
    }
}

impl Documents {
    /// Gives `request` its parsed, depth-checked document: from the persisted queries
    /// when it names one by hash, else from the cache or a fresh parse of its text.
    pub fn prepare(&self, request: &mut Request) -> Result<Arc<Document>, ServerError> {
        let document = match request.extensions.remove("persistedQuery") {
            Some(value) => self.persisted_query(request, value)?,
            None => self.parse(&request.query)?,
        };
        request.set_parsed_query(document.document.clone());
        Ok(document)
    }

    /// Apollo's protocol: a hash alone runs the query registered under it, or fails with
    /// `PersistedQueryNotFound` (the client then sends the text); a hash with the text
    /// registers it.
    fn persisted_query(
        &self,
        request: &mut Request,
        value: async_graphql::Value,
    ) -> Result<Arc<Document>, ServerError> {
        let persisted: PersistedQuery = async_graphql::from_value(value).map_err(|_| {
            ServerError::new("Invalid \"PersistedQuery\" extension configuration.", None)
        })?;
        if persisted.version != 1 {
            return Err(ServerError::new(
                format!(
                    "Only the \"PersistedQuery\" extension of version \"1\" is supported, and the current version is \"{}\".",
                    persisted.version
                ),
                None,
            ));
        }
        if request.query.is_empty() {
            return lock(&self.persisted)
                .get(&persisted.sha256_hash)
                .cloned()
                .ok_or_else(|| ServerError::new("PersistedQueryNotFound", None));
        }
        let hash = hex::encode(sha2::Sha256::digest(request.query.as_bytes()));
        if persisted.sha256_hash != hash {
            return Err(ServerError::new("provided sha does not match query", None));
        }
        let document = self.parse(&request.query)?;
        if request.query.len() <= MAX_CACHED_QUERY_BYTES {
            lock(&self.persisted).put(hash, document.clone());
        }
        Ok(document)
    }

    /// The document of a query text, parsed and depth-checked once while it stays cached.
    fn parse(&self, query: &str) -> Result<Arc<Document>, ServerError> {
        if let Some(document) = lock(&self.parsed).get(query) {
            return Ok(document.clone());
        }
        // The parser recurses once per bracket: a document nested thousands deep would
        // overflow the stack before any limit on the parsed document could refuse it.
        limits::check_nesting(query)?;
        let document = async_graphql::parser::parse_query(query)?;
        limits::check_depth(&document)?;
        let document = Arc::new(Document::new(document));
        if query.len() <= MAX_CACHED_QUERY_BYTES {
            lock(&self.parsed).put(query.to_string(), document.clone());
        }
        Ok(document)
    }
}

/// The WebSocket schema's one extension: gives each operation its document from the
/// same `Documents` as HTTP (so one persisted-query store and one depth check).
pub struct Prepare(pub Arc<Documents>);

impl ExtensionFactory for Prepare {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Prepare(self.0.clone()))
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Prepare {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Err(error) = self.0.prepare(&mut request) {
            let mut errors = [error];
            code_uncoded_errors(&mut errors);
            let [error] = errors;
            return Err(error);
        }
        next.run(ctx, request).await
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|mut errors| {
            code_uncoded_errors(&mut errors);
            errors
        })
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> async_graphql::Response {
        let mut response = next.run(ctx, operation_name).await;
        code_uncoded_errors(&mut response.errors);
        response
    }
}

/// The cache, even if a thread panicked while holding it (its contents stay valid).
fn lock(cache: &Cache) -> std::sync::MutexGuard<'_, LruCache<String, Arc<Document>>> {
    cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn persisted(hash: &str) -> async_graphql::Value {
        async_graphql::value!({ "version": 1, "sha256Hash": hash })
    }

    #[test]
    fn a_query_text_is_parsed_once_and_long_ones_are_not_kept() {
        let documents = Documents::default();
        for _ in 0..3 {
            let mut request = Request::new("{ xpRewards { xp } }");
            documents.prepare(&mut request).unwrap();
        }
        assert_eq!(lock(&documents.parsed).len(), 1);
        let long = format!(
            "{{ xpRewards {{ xp }} }} {}",
            "#".repeat(MAX_CACHED_QUERY_BYTES)
        );
        documents.prepare(&mut Request::new(long)).unwrap();
        assert_eq!(lock(&documents.parsed).len(), 1);
        let broken = documents.prepare(&mut Request::new("{ xpRewards { xp }"));
        assert!(broken.is_err());
        assert_eq!(lock(&documents.parsed).len(), 1, "errors are not kept");
    }

    #[test]
    fn only_query_documents_skip_validation_once_validated() {
        let documents = Documents::default();
        let prepare = |text: &str| documents.prepare(&mut Request::new(text)).unwrap();
        let query = prepare("query { xpRewards { xp } }");
        assert!(!query.is_validated());
        query.validated();
        assert!(prepare("query { xpRewards { xp } }").is_validated());
        assert!(
            !prepare("{ xpRewards { action } }").is_validated(),
            "another text"
        );
        for text in [
            "mutation { signUp { token } }",
            "query A { xpRewards { xp } } mutation B { signUp { token } }",
        ] {
            prepare(text).validated();
            assert!(!prepare(text).is_validated(), "{text}");
        }
    }

    #[test]
    fn a_request_selects_its_operation_as_async_graphql_does() {
        let documents = Documents::default();
        let prepare = |text: &str| documents.prepare(&mut Request::new(text)).unwrap();
        let anonymous = prepare("mutation { signUp { token } }");
        assert_eq!(
            anonymous.operation(None),
            Some((OperationType::Mutation, None))
        );
        assert_eq!(anonymous.operation(Some("A")), None);
        let named = prepare("query Rewards { xpRewards { xp } }");
        assert_eq!(
            named.operation(None),
            Some((OperationType::Query, Some("Rewards")))
        );
        let two = prepare("query A { xpRewards { xp } } subscription B { levelUps { level } }");
        assert_eq!(
            two.operation(Some("B")),
            Some((OperationType::Subscription, Some("B")))
        );
        assert_eq!(two.operation(None), None);
        assert_eq!(two.operation(Some("C")), None);
    }

    #[test]
    fn persisted_queries_are_found_by_hash_once_registered() {
        let documents = Documents::default();
        let query = "{ xpRewards { xp } }";
        let hash = hex::encode(sha2::Sha256::digest(query.as_bytes()));
        let mut by_hash = Request::new("");
        by_hash
            .extensions
            .insert("persistedQuery".into(), persisted(&hash));
        let missing = documents.prepare(&mut by_hash).unwrap_err();
        assert_eq!(missing.message, "PersistedQueryNotFound");

        let mut wrong = Request::new(query);
        wrong
            .extensions
            .insert("persistedQuery".into(), persisted("00"));
        let wrong = documents.prepare(&mut wrong).unwrap_err();
        assert_eq!(wrong.message, "provided sha does not match query");

        let mut register = Request::new(query);
        register
            .extensions
            .insert("persistedQuery".into(), persisted(&hash));
        documents.prepare(&mut register).unwrap();
        let mut by_hash = Request::new("");
        by_hash
            .extensions
            .insert("persistedQuery".into(), persisted(&hash));
        documents.prepare(&mut by_hash).unwrap();
    }
}
