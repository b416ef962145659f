//! Limits checked on the parsed query, before anything runs: nesting depth (not
//! counting introspection, so GraphiQL's schema query passes) and complexity.
//! The HTTP endpoint checks the depth when it parses (graphql::documents); WebSocket
//! operations pass the DepthLimit extension.

use std::collections::HashSet;
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned, ServerError, ServerResult, Variables};

/// Deepest nesting of fields a query may have.
pub const MAX_DEPTH: usize = 12;
/// Highest complexity (fields, with lists weighted by their page size) a query may have.
pub const MAX_COMPLEXITY: usize = 5_000;

pub struct DepthLimit;

impl ExtensionFactory for DepthLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DepthLimit)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for DepthLimit {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        check_depth(&document)?;
        Ok(document)
    }
}

/// Refuses a document nesting fields deeper than MAX_DEPTH (introspection not counted).
pub fn check_depth(document: &ExecutableDocument) -> ServerResult<()> {
    let depth = document
        .operations
        .iter()
        .map(|(_, operation)| {
            selection_depth(
                &operation.node.selection_set.node,
                &document.fragments,
                &mut HashSet::new(),
            )
        })
        .max()
        .unwrap_or(0);
    if depth > MAX_DEPTH {
        let mut error = ServerError::new(
            format!("the query nests {depth} levels deep; at most {MAX_DEPTH} are allowed"),
            None,
        );
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", "BAD_USER_INPUT");
        return Err(error);
    }
    Ok(())
}

fn selection_depth(
    selection_set: &SelectionSet,
    fragments: &std::collections::HashMap<Name, Positioned<FragmentDefinition>>,
    visiting: &mut HashSet<Name>,
) -> usize {
    selection_set
        .items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(field) => {
                let name = field.node.name.node.as_str();
                if name == "__schema" || name == "__type" {
                    0
                } else {
                    1 + selection_depth(&field.node.selection_set.node, fragments, visiting)
                }
            }
            Selection::InlineFragment(fragment) => {
                selection_depth(&fragment.node.selection_set.node, fragments, visiting)
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                // A fragment cycle is invalid; validation reports it.
                match fragments.get(name) {
                    Some(fragment) if visiting.insert(name.clone()) => {
                        let depth =
                            selection_depth(&fragment.node.selection_set.node, fragments, visiting);
                        visiting.remove(name);
                        depth
                    }
                    _ => 0,
                }
            }
        })
        .max()
        .unwrap_or(0)
}
