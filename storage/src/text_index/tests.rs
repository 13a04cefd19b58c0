//! Searches checked against an oracle that cuts every value the way the
//! analyzers are specified (split on non-alphanumerics and lowercase, or the
//! whole value) and scans every row.

use std::fs;

use super::*;

/// A tiny deterministic generator, so that failures reproduce.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

pub(crate) const WORDS: [&str; 20] = [
    "alpha",
    "Beta",
    "GAMMA",
    "kernel",
    "panic",
    "Connection",
    "reset",
    "host",
    "17",
    "10",
    "0",
    "1",
    "get",
    "index",
    "html",
    "error",
    "WARN",
    "über",
    "café",
    "user42",
];

const SEPARATORS: [&str; 11] = [" ", " ", " ", "-", ".", "/", ":", "?", "=", ", ", "_"];

const CODES: [&str; 6] = [
    "Beta",
    "host-17",
    "GET /index.html",
    "alpha",
    "kernel panic",
    "",
];

/// A message of a few words and separators; null now and then.
pub(crate) fn message(rng: &mut Rng) -> Option<String> {
    if rng.below(10) == 0 {
        return None;
    }
    let words = rng.below(9);
    let mut text = String::new();
    for i in 0..words {
        if i > 0 || rng.below(4) == 0 {
            text.push_str(rng.pick(&SEPARATORS));
        }
        text.push_str(rng.pick(&WORDS));
    }
    Some(text)
}

fn code(rng: &mut Rng) -> Option<String> {
    (rng.below(5) != 0).then(|| rng.pick(&CODES).to_string())
}

/// The oracle's analyzers.
#[derive(Clone, Copy)]
pub(crate) enum Cut {
    Words,
    Whole,
}

pub(crate) fn cut(how: Cut, text: &str) -> Vec<String> {
    match how {
        Cut::Words => text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
            .map(str::to_lowercase)
            .collect(),
        Cut::Whole => vec![text.to_string()],
    }
}

/// A query, written out in Lucene syntax and judged by the oracle.
#[derive(Debug, Clone)]
pub(crate) enum Q {
    /// A word or phrase (written bare, joined by `joiner`, or quoted when
    /// `joiner` is a space), in `field` or the default fields.
    Words {
        field: Option<&'static str>,
        words: Vec<String>,
        joiner: &'static str,
    },
    Prefix {
        field: Option<&'static str>,
        words: Vec<String>,
        prefix: String,
    },
    And(Box<Q>, Box<Q>),
    Or(Box<Q>, Box<Q>),
    Implicit(Box<Q>, Box<Q>),
    AndNot(Box<Q>, Box<Q>),
    Not(Box<Q>),
}

impl Q {
    pub(crate) fn lucene(&self) -> String {
        let field = |f: &Option<&str>| f.map(|f| format!("{f}:")).unwrap_or_default();
        match self {
            Q::Words {
                field: f,
                words,
                joiner: " ",
            } if words.len() > 1 => format!("{}\"{}\"", field(f), words.join(" ")),
            Q::Words {
                field: f,
                words,
                joiner,
            } => format!("{}{}", field(f), words.join(joiner)),
            Q::Prefix {
                field: f,
                words,
                prefix,
            } if words.is_empty() => format!("{}{prefix}*", field(f)),
            Q::Prefix {
                field: f,
                words,
                prefix,
            } => format!("{}\"{} {prefix}\"*", field(f), words.join(" ")),
            Q::And(a, b) => format!("({} AND {})", a.lucene(), b.lucene()),
            Q::Or(a, b) => format!("({} OR {})", a.lucene(), b.lucene()),
            Q::Implicit(a, b) => format!("({} {})", a.lucene(), b.lucene()),
            Q::AndNot(a, b) => format!("({} AND NOT {})", a.lucene(), b.lucene()),
            // The grammar lifts a group of one clause into its parent
            // (`a (NOT b)` is `a -b`), so "every row but" says `*` itself.
            Q::Not(a) => format!("(* -{})", a.lucene()),
        }
    }

    /// Whether a row with these field values matches; `fields` gives each
    /// field's name, analyzer, and whether it is a default field.
    pub(crate) fn matches(&self, fields: &[(&str, Cut, bool)], row: &[Option<&str>]) -> bool {
        let in_fields = |field: &Option<&str>, test: &dyn Fn(Cut, &[String]) -> bool| {
            fields
                .iter()
                .zip(row)
                .any(|(&(name, how, default), value)| {
                    let chosen = match field {
                        Some(f) => *f == name,
                        None => default,
                    };
                    chosen && value.is_some_and(|v| test(how, &cut(how, v)))
                })
        };
        match self {
            Q::Words {
                field,
                words,
                joiner,
            } => in_fields(field, &|how, tokens| {
                let wanted = cut(how, &words.join(joiner));
                tokens.windows(wanted.len()).any(|w| w == wanted.as_slice())
            }),
            Q::Prefix {
                field,
                words,
                prefix,
            } => in_fields(field, &|how, tokens| {
                let (phrase, last) = match how {
                    Cut::Words => (
                        words.iter().map(|w| w.to_lowercase()).collect::<Vec<_>>(),
                        prefix.to_lowercase(),
                    ),
                    Cut::Whole => (Vec::new(), format!("{} {prefix}", words.join(" "))),
                };
                let last = last.trim_start().to_string();
                tokens
                    .windows(phrase.len() + 1)
                    .any(|w| w[..phrase.len()] == phrase[..] && w[phrase.len()].starts_with(&last))
            }),
            Q::And(a, b) => a.matches(fields, row) && b.matches(fields, row),
            Q::Or(a, b) | Q::Implicit(a, b) => a.matches(fields, row) || b.matches(fields, row),
            Q::AndNot(a, b) => a.matches(fields, row) && !b.matches(fields, row),
            Q::Not(a) => !a.matches(fields, row),
        }
    }
}

/// A random query over `field_names` (or the default fields); phrases are
/// taken from `rows` so that they match something.
pub(crate) fn random_query(
    rng: &mut Rng,
    field_names: &[&'static str],
    phrases_from: &[Option<String>],
    depth: usize,
) -> Q {
    let field = if rng.below(3) == 0 {
        Some(rng.pick(field_names))
    } else {
        None
    };
    let leaf_kinds = 3;
    let kind = if depth == 0 {
        rng.below(leaf_kinds)
    } else {
        rng.below(leaf_kinds + 5)
    };
    let sub = |rng: &mut Rng| Box::new(random_query(rng, field_names, phrases_from, depth - 1));
    match kind {
        0 => Q::Words {
            field,
            words: vec![rng.pick(&WORDS).to_string()],
            joiner: " ",
        },
        1 => {
            let tokens = phrase_source(rng, phrases_from);
            let len = 2 + rng.below(2).min(tokens.len().saturating_sub(2));
            let start = rng.below(tokens.len() - len + 1);
            Q::Words {
                field,
                words: tokens[start..start + len].to_vec(),
                joiner: rng.pick(&[" ", "-", "."]),
            }
        }
        2 => {
            let word = rng.pick(&WORDS).to_lowercase();
            let chars: Vec<char> = word.chars().collect();
            let prefix: String = chars[..1 + rng.below(chars.len())].iter().collect();
            let words = if rng.below(3) == 0 {
                let tokens = phrase_source(rng, phrases_from);
                vec![tokens[rng.below(tokens.len())].clone()]
            } else {
                Vec::new()
            };
            Q::Prefix {
                field,
                words,
                prefix,
            }
        }
        3 => Q::And(sub(rng), sub(rng)),
        4 => Q::Or(sub(rng), sub(rng)),
        5 => Q::Implicit(sub(rng), sub(rng)),
        6 => Q::AndNot(sub(rng), sub(rng)),
        _ => Q::Not(sub(rng)),
    }
}

/// The words of a stored message with at least two of them.
fn phrase_source(rng: &mut Rng, rows: &[Option<String>]) -> Vec<String> {
    loop {
        if let Some(text) = &rows[rng.below(rows.len())] {
            let tokens = cut(Cut::Words, text);
            if tokens.len() >= 2 {
                return tokens;
            }
        }
    }
}

/// The rows the oracle says match.
pub(crate) fn oracle(
    q: &Q,
    fields: &[(&str, Cut, bool)],
    rows: &[Vec<Option<&str>>],
) -> RoaringBitmap {
    rows.iter()
        .enumerate()
        .filter(|(_, row)| q.matches(fields, row))
        .map(|(i, _)| i as u32)
        .collect()
}

fn field(name: &str, analyzer: TextAnalyzer) -> TextField {
    TextField {
        name: name.to_string(),
        analyzer,
    }
}

struct Corpus {
    fields: Vec<TextField>,
    values: Vec<[Option<String>; 3]>,
}

impl Corpus {
    fn new(rows: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let values = (0..rows)
            .map(|_| [message(&mut rng), message(&mut rng), code(&mut rng)])
            .collect();
        Corpus {
            fields: vec![
                field("message", TextAnalyzer::Default),
                field("title", TextAnalyzer::Default),
                field("code", TextAnalyzer::Raw),
            ],
            values,
        }
    }

    fn rows(&self) -> Vec<Vec<Option<&str>>> {
        self.values
            .iter()
            .map(|row| row.iter().map(Option::as_deref).collect())
            .collect()
    }

    fn in_memory(&self) -> TextIndex {
        let rows = self.rows();
        TextIndex::in_memory(
            &self.fields,
            rows.into_iter().enumerate().map(|(i, r)| (i as u32, r)),
        )
        .unwrap()
    }

    fn write(&self, dir: &Path) -> TextIndex {
        let mut writer = TextIndexWriter::create(dir, &self.fields).unwrap();
        for (i, row) in self.rows().iter().enumerate() {
            writer.add_row(i as u32, row).unwrap();
        }
        writer.finish().unwrap();
        TextIndex::open(dir).unwrap()
    }
}

const ORACLE_FIELDS: [(&str, Cut, bool); 3] = [
    ("message", Cut::Words, true),
    ("title", Cut::Words, true),
    ("code", Cut::Whole, true),
];

fn search(index: &TextIndex, query: &str) -> RoaringBitmap {
    index
        .search(query, &[])
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

#[test]
fn random_queries_match_the_oracle() {
    let corpus = Corpus::new(3_000, 1);
    let index = corpus.in_memory();
    let rows = corpus.rows();
    let messages: Vec<Option<String>> = corpus.values.iter().map(|r| r[0].clone()).collect();
    let mut rng = Rng::new(2);
    let mut nonempty = 0;
    for _ in 0..400 {
        let q = random_query(&mut rng, &["message", "title"], &messages, 3);
        let expected = oracle(&q, &ORACLE_FIELDS, &rows);
        let found = search(&index, &q.lucene());
        assert_eq!(found, expected, "query {}", q.lucene());
        nonempty += usize::from(!expected.is_empty() && expected.len() < rows.len() as u64);
    }
    // The queries are selective, not all-or-nothing.
    assert!(nonempty > 200, "only {nonempty} queries selected some rows");
}

#[test]
fn default_fields_narrow_where_bare_words_are_looked_for() {
    let corpus = Corpus::new(2_000, 3);
    let index = corpus.in_memory();
    let rows = corpus.rows();
    let only_message = [
        ("message", Cut::Words, true),
        ("title", Cut::Words, false),
        ("code", Cut::Whole, false),
    ];
    let messages: Vec<Option<String>> = corpus.values.iter().map(|r| r[0].clone()).collect();
    let mut rng = Rng::new(4);
    for _ in 0..150 {
        let q = random_query(&mut rng, &["title", "code"], &messages, 2);
        let found = index.search(&q.lucene(), &["message".to_string()]).unwrap();
        assert_eq!(found, oracle(&q, &only_message, &rows), "{}", q.lucene());
    }
}

#[test]
fn terms_phrases_and_prefixes_find_parts_of_hosts_addresses_and_urls() {
    let values = [
        Some("GET http://shop.example.com/cart?item=Needle7F3A from 10.0.0.1"),
        Some("host-17 connection reset by peer"),
        None,
        Some("host 17, kernel panic on host-18"),
        Some("panic kernel"),
        Some("10.0.0.12 ok"),
    ];
    let index = TextIndex::in_memory(
        &[field("message", TextAnalyzer::Default)],
        values.iter().enumerate().map(|(i, v)| (i as u32, vec![*v])),
    )
    .unwrap();
    let rows = |q: &str| search(&index, q).iter().collect::<Vec<_>>();
    assert_eq!(rows("needle7f3a"), [0]);
    assert_eq!(rows("NEEDLE7f3a"), [0]);
    assert_eq!(rows("example"), [0]);
    assert_eq!(rows("\"shop.example.com\""), [0]);
    assert_eq!(rows("10.0.0.1"), [0]);
    assert_eq!(rows("\"10.0.0.1\""), [0]);
    assert_eq!(rows("host-17"), [1, 3]);
    assert_eq!(rows("\"kernel panic\""), [3]);
    assert_eq!(rows("kernel panic"), [3, 4]);
    assert_eq!(rows("kernel AND NOT \"kernel panic\""), [4]);
    assert_eq!(rows("+kernel -\"kernel panic\""), [4]);
    assert_eq!(
        rows("(kernel OR reset) AND NOT (panic host)"),
        Vec::<u32>::new()
    );
    assert_eq!(rows("kernel OR reset AND peer"), [1, 3, 4]);
    assert_eq!(rows("needle*"), [0]);
    assert_eq!(rows("\"host 1\"*"), [1, 3]);
    assert_eq!(rows("\"10.0.0.1\"*"), [0, 5]);
    assert_eq!(rows("message:*"), [0, 1, 3, 4, 5]);
    assert_eq!(rows("*"), [0, 1, 2, 3, 4, 5]);
    // A row without text matches a negation, as in Elasticsearch.
    assert_eq!(rows("NOT panic"), [0, 1, 2, 5]);
    assert_eq!(rows("message: IN [ok reset]"), [1, 5]);
    assert_eq!(rows("\"reset peer\"~1"), [1]);
    assert_eq!(rows("panic^3 OR ok"), [3, 4, 5]);
    // Nothing to look for matches nothing.
    assert!(rows("").is_empty());
    assert!(rows("\"...\"").is_empty());
    assert!(rows("absent").is_empty());
}

#[test]
fn a_raw_field_holds_each_value_whole() {
    let values = [
        "GET /index.html",
        "get /index.html",
        "GET",
        "GET /index.html?x=1",
    ];
    let index = TextIndex::in_memory(
        &[field("request", TextAnalyzer::Raw)],
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (i as u32, vec![Some(*v)])),
    )
    .unwrap();
    let rows = |q: &str| search(&index, q).iter().collect::<Vec<_>>();
    assert_eq!(rows("\"GET /index.html\""), [0]);
    assert_eq!(rows("GET"), [2]);
    assert!(rows("index").is_empty());
    assert_eq!(rows("\"GET /index\"*"), [0, 3]);
    assert_eq!(rows("request:GET*"), [0, 2, 3]);
}

#[test]
fn an_english_field_matches_the_forms_of_a_word() {
    let values = [
        "the server connected",
        "Connecting to the database",
        "connection reset by peer",
        "disconnect",
        "runners running",
    ];
    let index = TextIndex::in_memory(
        &[field("message", TextAnalyzer::English)],
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (i as u32, vec![Some(*v)])),
    )
    .unwrap();
    let rows = |q: &str| search(&index, q).iter().collect::<Vec<_>>();
    assert_eq!(rows("connect"), [0, 1, 2]);
    assert_eq!(rows("connections"), [0, 1, 2]);
    assert_eq!(rows("\"connected reset\""), [2]);
    assert_eq!(rows("conn*"), [0, 1, 2]);
    // A prefix is not stemmed: "runnin" is not a word to cut down.
    assert_eq!(rows("runn*"), [4]);
    assert_eq!(rows("disconnected"), [3]);
}

#[test]
fn a_query_that_does_not_parse_says_where() {
    let index = Corpus::new(10, 5).in_memory();
    for (query, expected) in [
        ("(needle", "expected ')' at position 7"),
        ("\"kernel panic", "at position 13"),
        ("needle)", "at position 6"),
        ("needle AND", "Lucene query syntax"),
        ("message:[a TO b]", "range queries"),
        ("message:/ne+dle/", "regular expressions"),
        ("ne*dle", "wildcard"),
        ("message:*dle", "wildcard"),
    ] {
        match index.search(query, &[]) {
            Err(TextQueryError::Syntax { query: q, problem }) => {
                assert_eq!(q, query);
                assert!(problem.contains(expected), "{query}: {problem}");
            }
            other => panic!("{query}: {other:?}"),
        }
    }
}

#[test]
fn a_field_that_is_not_a_text_field_is_named_with_the_text_fields() {
    let index = Corpus::new(10, 6).in_memory();
    let text_fields = vec![
        "message".to_string(),
        "title".to_string(),
        "code".to_string(),
    ];
    for (query, fields, unknown) in [
        ("host:web1", vec![], "host"),
        ("http://example.com", vec![], "http"),
        (
            "needle",
            vec!["message".to_string(), "status".to_string()],
            "status",
        ),
        ("__row:3", vec![], "__row"),
    ] {
        match index.search(query, &fields) {
            Err(e @ TextQueryError::UnknownField { .. }) => {
                let TextQueryError::UnknownField {
                    field,
                    text_fields: listed,
                } = &e
                else {
                    unreachable!()
                };
                assert_eq!(field, unknown);
                assert_eq!(listed, &text_fields);
                let message = e.to_string();
                assert!(
                    message.contains("\"message\", \"title\", \"code\""),
                    "{message}"
                );
            }
            other => panic!("{query}: {other:?}"),
        }
    }
}

#[test]
fn the_written_index_answers_as_the_in_memory_one_and_the_oracle() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = Corpus::new(2_000, 7);
    let written = corpus.write(&dir.path().join("text"));
    let in_memory = corpus.in_memory();
    assert_eq!(written.fields(), corpus.fields.as_slice());
    assert_eq!(written.row_bound(), 2_000);
    let rows = corpus.rows();
    let messages: Vec<Option<String>> = corpus.values.iter().map(|r| r[0].clone()).collect();
    let mut rng = Rng::new(8);
    for _ in 0..100 {
        let q = random_query(&mut rng, &["message", "title", "code"], &messages, 2);
        let expected = oracle(&q, &ORACLE_FIELDS, &rows);
        assert_eq!(search(&written, &q.lucene()), expected, "{}", q.lucene());
        assert_eq!(search(&in_memory, &q.lucene()), expected, "{}", q.lucene());
    }
}

#[test]
fn rows_may_skip_ids_but_not_go_back() {
    let fields = [field("message", TextAnalyzer::Default)];
    let index = TextIndex::in_memory(
        &fields,
        [
            (3, vec![Some("a")]),
            (10, vec![Some("a b")]),
            (11, vec![None]),
        ],
    )
    .unwrap();
    assert_eq!(search(&index, "a").iter().collect::<Vec<_>>(), [3, 10]);
    assert_eq!(index.row_bound(), 12);
    let backwards = TextIndex::in_memory(&fields, [(3, vec![Some("a")]), (3, vec![Some("b")])]);
    assert!(matches!(
        backwards,
        Err(TextIndexError::InvalidInput { .. })
    ));
    let too_many = TextIndex::in_memory(&fields, [(0, vec![Some("a"), Some("b")])]);
    assert!(matches!(too_many, Err(TextIndexError::InvalidInput { .. })));
}

#[test]
fn an_abandoned_writer_leaves_no_index_to_trust() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("text");
    let mut writer =
        TextIndexWriter::create(&text, &[field("message", TextAnalyzer::Default)]).unwrap();
    writer.add_row(0, &[Some("needle")]).unwrap();
    drop(writer);
    assert!(!text.exists());
    assert!(matches!(
        TextIndex::open(&text),
        Err(TextIndexError::Corrupt { .. })
    ));
}

#[test]
fn a_damaged_or_missing_file_is_an_error_naming_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("text");
    Corpus::new(500, 9).write(&text);
    let files: Vec<_> = fs::read_dir(&text)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            !name.starts_with('.') && name != "meta.json"
        })
        .collect();
    assert!(!files.is_empty());
    for file in &files {
        let original = fs::read(file).unwrap();
        // A flipped byte in the middle of the file.
        let mut damaged = original.clone();
        let at = damaged.len() / 2;
        damaged[at] ^= 0x55;
        fs::write(file, &damaged).unwrap();
        let error = TextIndex::open(&text).unwrap_err();
        assert!(matches!(error, TextIndexError::Corrupt { .. }), "{error}");
        assert!(error.to_string().contains(&text.display().to_string()));
        // Truncated.
        fs::write(file, &original[..original.len() / 3]).unwrap();
        assert!(TextIndex::open(&text).is_err(), "{}", file.display());
        // Gone.
        fs::remove_file(file).unwrap();
        assert!(TextIndex::open(&text).is_err(), "{}", file.display());
        fs::write(file, &original).unwrap();
        TextIndex::open(&text).unwrap();
    }
    fs::write(text.join("meta.json"), b"{ not json").unwrap();
    let error = TextIndex::open(&text).unwrap_err();
    assert!(
        error.to_string().contains(&text.display().to_string()),
        "{error}"
    );
    fs::remove_file(text.join("meta.json")).unwrap();
    assert!(TextIndex::open(&text).is_err());
}

mod in_a_segment {
    use super::*;
    use crate::segment::{
        CellValue, ColumnSchema, ROWS_PER_BLOCK, Segment, SegmentWriter, TableKind,
    };

    fn events_schema() -> TableSchema {
        TableSchema::new(vec![
            ColumnSchema::new("host", ColumnKind::String { multi_value: false }),
            ColumnSchema::new("message", ColumnKind::Text),
            ColumnSchema::new("status", ColumnKind::Long),
            ColumnSchema::new("code", ColumnKind::Text),
        ])
        .unwrap()
        .with_text_analyzer("code", TextAnalyzer::Raw)
        .unwrap()
    }

    fn text(value: &Option<String>) -> CellValue<'_> {
        value.as_deref().map_or(CellValue::Null, CellValue::Str)
    }

    /// Rows over more than one row block, needles in a few, nulls here and
    /// there.
    fn corpus() -> (Vec<Option<String>>, Vec<Option<String>>) {
        let mut rng = Rng::new(11);
        let rows = ROWS_PER_BLOCK + 4_464;
        let mut messages: Vec<Option<String>> = (0..rows).map(|_| message(&mut rng)).collect();
        for row in [0, 7, ROWS_PER_BLOCK - 1, ROWS_PER_BLOCK, rows - 1] {
            messages[row] = Some(format!("GET /cart?id=Needle7F3A from host-{row}"));
        }
        let codes = (0..rows).map(|_| code(&mut rng)).collect();
        (messages, codes)
    }

    #[test]
    fn a_segment_searches_the_rows_of_its_events_table() {
        let dir = tempfile::tempdir().unwrap();
        let segment_dir = dir.path().join("segment");
        let (messages, codes) = corpus();
        let mut segment = SegmentWriter::create(&segment_dir).unwrap();
        let mut writer = segment.table(TableKind::Events, events_schema()).unwrap();
        for (row, (message, code)) in messages.iter().zip(&codes).enumerate() {
            writer
                .append_row(
                    row as i64,
                    &[
                        CellValue::Str("web1"),
                        text(message),
                        CellValue::Long(row as i64 % 600),
                        text(code),
                    ],
                )
                .unwrap();
        }
        segment.add_table(writer.finish().unwrap());
        let summary = segment.finish().unwrap();
        assert!(summary.text_index);
        assert!(!segment_dir.join("text.partial").exists());

        let segment = Segment::open(&segment_dir).unwrap();
        let table = segment.table(TableKind::Events).unwrap();
        let index = table.text_index().unwrap().unwrap();
        assert!(std::ptr::eq(index, table.text_index().unwrap().unwrap()));
        assert_eq!(
            index.fields(),
            [
                field("message", TextAnalyzer::Default),
                field("code", TextAnalyzer::Raw)
            ]
        );
        let needles: Vec<u32> = search(index, "needle7f3a").iter().collect();
        let last = messages.len() as u32 - 1;
        let block = ROWS_PER_BLOCK as u32;
        assert_eq!(needles, [0, 7, block - 1, block, last]);
        assert_eq!(
            search(index, "\"host 65536\"").iter().collect::<Vec<_>>(),
            [block]
        );

        let rows: Vec<Vec<Option<&str>>> = messages
            .iter()
            .zip(&codes)
            .map(|(m, c)| vec![m.as_deref(), c.as_deref()])
            .collect();
        let fields = [("message", Cut::Words, true), ("code", Cut::Whole, true)];
        let in_memory = TextIndex::in_memory(
            &TextField::of_table(table.schema()),
            rows.iter().enumerate().map(|(i, r)| (i as u32, r.clone())),
        )
        .unwrap();
        let mut rng = Rng::new(12);
        for _ in 0..60 {
            let q = random_query(&mut rng, &["message", "code"], &messages, 2);
            let expected = oracle(&q, &fields, &rows);
            assert_eq!(search(index, &q.lucene()), expected, "{}", q.lucene());
            assert_eq!(search(&in_memory, &q.lucene()), expected, "{}", q.lucene());
        }
    }

    #[test]
    fn a_text_column_is_analyzed_as_its_schema_says() {
        let schema = events_schema();
        assert_eq!(
            TextField::of_table(&schema),
            [
                field("message", TextAnalyzer::Default),
                field("code", TextAnalyzer::Raw)
            ]
        );
        assert_eq!(schema.text_analyzer("host"), None);
        assert!(matches!(
            schema.with_text_analyzer("status", TextAnalyzer::English),
            Err(crate::segment::schema::SchemaError::NotTextColumn(c)) if c == "status"
        ));
        // Back to the default, the schema is what it was without one.
        let plain = events_schema()
            .with_text_analyzer("code", TextAnalyzer::Default)
            .unwrap();
        assert_eq!(plain, TableSchema::new(plain.columns().to_vec()).unwrap());
    }

    #[test]
    fn only_an_events_table_with_text_columns_has_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let without_text =
            TableSchema::new(vec![ColumnSchema::new("status", ColumnKind::Long)]).unwrap();
        for (kind, schema) in [
            (TableKind::Events, without_text.clone()),
            (TableKind::Rollup, events_schema()),
        ] {
            let segment_dir = dir.path().join(kind.name());
            let mut segment = SegmentWriter::create(&segment_dir).unwrap();
            let mut writer = segment.table(kind, schema.clone()).unwrap();
            let values: Vec<CellValue<'_>> = schema
                .columns()
                .iter()
                .map(|c| match c.kind {
                    ColumnKind::Long => CellValue::Long(1),
                    _ => CellValue::Str("a needle"),
                })
                .collect();
            writer.append_row(1, &values).unwrap();
            segment.add_table(writer.finish().unwrap());
            assert!(!segment.finish().unwrap().text_index);
            let segment = Segment::open(&segment_dir).unwrap();
            assert!(segment.table(kind).unwrap().text_index().unwrap().is_none());
        }
    }

    #[test]
    fn an_abandoned_table_leaves_no_index_behind() {
        let dir = tempfile::tempdir().unwrap();
        let segment_dir = dir.path().join("segment");
        let segment = SegmentWriter::create(&segment_dir).unwrap();
        let mut writer = segment.table(TableKind::Events, events_schema()).unwrap();
        let row = [
            CellValue::Str("web1"),
            CellValue::Str("needle"),
            CellValue::Long(1),
            CellValue::Null,
        ];
        writer.append_row(2, &row).unwrap();
        // Rows out of time order: the table fails, and is dropped.
        assert!(writer.append_row(1, &row).is_err());
        drop(writer);
        assert!(!segment_dir.join("text").exists());
        assert!(!segment.finish().unwrap().text_index);
    }

    #[test]
    fn an_index_that_is_not_its_tables_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let segment_dir = dir.path().join("segment");
        let mut segment = SegmentWriter::create(&segment_dir).unwrap();
        let mut writer = segment.table(TableKind::Events, events_schema()).unwrap();
        writer
            .append_row(
                1,
                &[
                    CellValue::Str("web1"),
                    CellValue::Str("needle"),
                    CellValue::Long(1),
                    CellValue::Null,
                ],
            )
            .unwrap();
        segment.add_table(writer.finish().unwrap());
        segment.finish().unwrap();
        // Another index, over other fields, put in its place.
        fs::remove_dir_all(segment_dir.join("text")).unwrap();
        Corpus::new(10, 13).write(&segment_dir.join("text"));
        let segment = Segment::open(&segment_dir).unwrap();
        let error = segment
            .table(TableKind::Events)
            .unwrap()
            .text_index()
            .unwrap_err();
        assert!(matches!(error, SegmentError::Corrupt { .. }), "{error}");
        assert!(error.to_string().contains("text"), "{error}");
    }
}
