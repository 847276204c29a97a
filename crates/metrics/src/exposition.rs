//! [`Format`] and [`encode`]: a registry as a scrape's body, in the format the scraper asked
//! for.

use prometheus_client::registry::Registry;

/// An exposition format: what a `/metrics` answer is written in.
///
/// prometheus-client writes OpenMetrics 1.0. Prometheus asks for it (its `Accept` header
/// names `application/openmetrics-text` first) and parses it. Tools that read the older text
/// format 0.0.4 do not: Prometheus 2.42's `promtool check metrics` reads a counter's
/// `name_total` sample under `# TYPE name counter` as a second, untyped metric without help,
/// and rejects it. So, as the Prometheus project's Go and Python clients do, the endpoint
/// negotiates: OpenMetrics to a client that asks for it, the text format to any other (curl,
/// promtool, a browser) — the same series either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// OpenMetrics 1.0.0 text, as prometheus-client writes it.
    OpenMetrics,
    /// The Prometheus text format 0.0.4: OpenMetrics with each counter's metadata under its
    /// `_total` name, info metrics as gauges, and no `# UNIT`, exemplars or `# EOF`.
    Text,
}

impl Format {
    /// The format for a request's `Accept` header: [`OpenMetrics`](Self::OpenMetrics) when it
    /// names `application/openmetrics-text`, else [`Text`](Self::Text).
    ///
    /// # Examples
    ///
    /// ```
    /// use socketserver_metrics::Format;
    ///
    /// // What Prometheus 2.42 sends.
    /// let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    /// assert_eq!(Format::from_accept(Some(prometheus)), Format::OpenMetrics);
    /// assert_eq!(Format::from_accept(Some("*/*")), Format::Text);
    /// assert_eq!(Format::from_accept(None), Format::Text);
    /// ```
    pub fn from_accept(accept: Option<&str>) -> Format {
        let asks = accept.is_some_and(|accept| {
            accept.split(',').any(|range| {
                let media = range.split(';').next().unwrap_or("").trim();
                media.eq_ignore_ascii_case("application/openmetrics-text")
            })
        });
        match asks {
            true => Format::OpenMetrics,
            false => Format::Text,
        }
    }

    /// The `Content-Type` of a body in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// Encodes everything `registry` holds (its collectors read now) in `format`.
///
/// # Examples
///
/// ```
/// use prometheus_client::metrics::counter::Counter;
/// use prometheus_client::registry::Registry;
/// use socketserver_metrics::{encode, Format};
///
/// let mut registry = Registry::default();
/// let jobs: Counter = Counter::default();
/// // The registry ends the help text with a full stop.
/// registry.register("jobs", "Jobs done", jobs.clone());
/// jobs.inc();
///
/// let open = encode(&registry, Format::OpenMetrics)?;
/// assert_eq!(open, "# HELP jobs Jobs done.\n# TYPE jobs counter\njobs_total 1\n# EOF\n");
/// let text = encode(&registry, Format::Text)?;
/// assert_eq!(text, "# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\njobs_total 1\n");
/// # Ok::<(), std::fmt::Error>(())
/// ```
///
/// # Errors
///
/// The error of a metric or collector whose encoding failed.
pub fn encode(registry: &Registry, format: Format) -> Result<String, std::fmt::Error> {
    let mut openmetrics = String::with_capacity(4096);
    prometheus_client::encoding::text::encode(&mut openmetrics, registry)?;
    Ok(match format {
        Format::OpenMetrics => openmetrics,
        Format::Text => to_text_format(&openmetrics),
    })
}

/// Rewrites prometheus-client's OpenMetrics output as the text format 0.0.4. Only the
/// metadata and what 0.0.4 lacks change: the samples are the encoder's, line for line.
fn to_text_format(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    // The encoder writes each family's `# HELP` just before its `# TYPE`, which decides the
    // name both go under.
    let mut help: Option<&str> = None;
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            help = Some(rest.split_once(' ').map_or("", |(_, text)| text));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.rsplit_once(' ').unwrap_or((rest, "untyped"));
            let (suffix, kind) = match kind {
                "counter" => ("_total", "counter"),
                "info" => ("_info", "gauge"),
                "unknown" => ("", "untyped"),
                other => ("", other),
            };
            if let Some(text) = help.take() {
                // 0.0.4 escapes only `\` and line feeds in help text: a quote stands alone.
                let text = text.replace("\\\"", "\"");
                out.push_str(&format!("# HELP {name}{suffix} {text}\n"));
            }
            out.push_str(&format!("# TYPE {name}{suffix} {kind}\n"));
        } else if line.starts_with("# UNIT ") || line == "# EOF" {
            // Not in 0.0.4 (the unit is in the name already).
        } else {
            out.push_str(without_exemplar(line));
            out.push('\n');
        }
    }
    out
}

/// A sample line without its OpenMetrics exemplar (` # {labels} value`), which 0.0.4 has no
/// place for: cut at the first ` # ` after the name and its labels (a label value may hold
/// one).
fn without_exemplar(line: &str) -> &str {
    let mut quoted = false;
    let mut escaped = false;
    for (at, byte) in line.bytes().enumerate() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b' ' if !quoted => {
                return match line[at..].find(" # ") {
                    Some(exemplar) => &line[..at + exemplar],
                    None => line,
                };
            }
            _ => {}
        }
    }
    line
}

#[cfg(test)]
mod tests;
