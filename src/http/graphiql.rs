//! GraphiQL, served entirely by storyxp (scripts and styles vendored in assets/graphiql).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>storyxp GraphiQL</title>
  <link rel="stylesheet" href="/graphiql/graphiql.min.css">
  <style>body { margin: 0; height: 100vh; } #graphiql { height: 100vh; }</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL...</div>
  <script src="/graphiql/react.production.min.js"></script>
  <script src="/graphiql/react-dom.production.min.js"></script>
  <script src="/graphiql/graphiql.min.js"></script>
  <script>
    const http = new URL('/graphql', window.location.href);
    const ws = new URL('/graphql', window.location.href);
    ws.protocol = ws.protocol === 'https:' ? 'wss:' : 'ws:';
    // A token typed into the Headers tab is sent on subscriptions too.
    const fetcher = (params, options) => {
      const headers = (options && options.headers) || {};
      const authorization = headers.Authorization || headers.authorization;
      return GraphiQL.createFetcher({
        url: http.href,
        subscriptionUrl: ws.href,
        wsConnectionParams: authorization ? { authorization } : {},
      })(params, options);
    };
    const defaultQuery = `# Welcome to storyxp. Sign up, put "Authorization": "Bearer <token>"
# in the Headers tab, and try the queries below.
query Me {
  me { username experiencePoints level xpProgress xpProgressPercentage }
}
`;
    ReactDOM.createRoot(document.getElementById('graphiql')).render(
      React.createElement(GraphiQL, { fetcher, defaultQuery, shouldPersistHeaders: true }),
    );
  </script>
</body>
</html>
"#;

pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}

pub async fn asset(Path(name): Path<String>) -> Response {
    let (body, content_type): (&'static [u8], &str) = match name.as_str() {
        "graphiql.min.js" => (
            include_bytes!("../../assets/graphiql/graphiql.min.js"),
            "text/javascript",
        ),
        "graphiql.min.css" => (
            include_bytes!("../../assets/graphiql/graphiql.min.css"),
            "text/css",
        ),
        "react.production.min.js" => (
            include_bytes!("../../assets/graphiql/react.production.min.js"),
            "text/javascript",
        ),
        "react-dom.production.min.js" => (
            include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
            "text/javascript",
        ),
        _ => return (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    };
    super::static_file(body, content_type, "public, max-age=86400")
}
