//! Unit tests of the text format 0.0.4 rewrite.

use crate::exposition::{to_text_format, without_exemplar};

#[test]
fn exemplars_are_cut_after_the_labels_only() {
    assert_eq!(
        without_exemplar(r#"a_bucket{le="1",x="p # q"} 3 # {trace="t"} 0.5"#),
        r#"a_bucket{le="1",x="p # q"} 3"#
    );
    assert_eq!(without_exemplar("a_total 3"), "a_total 3");
}

#[test]
fn info_and_unknown_become_gauge_and_untyped() {
    let open = "# HELP build Build.\n# TYPE build info\nbuild_info{v=\"1\"} 1\n\
                # HELP odd Odd \\\"one\\\".\n# TYPE odd unknown\nodd 2\n# EOF\n";
    assert_eq!(
        to_text_format(open),
        "# HELP build_info Build.\n# TYPE build_info gauge\nbuild_info{v=\"1\"} 1\n\
         # HELP odd Odd \"one\".\n# TYPE odd untyped\nodd 2\n"
    );
}

#[test]
fn a_histogram_loses_its_unit_line_only() {
    let open = "# HELP d_seconds D.\n# TYPE d_seconds histogram\n# UNIT d_seconds seconds\n\
                d_seconds_sum 0.5\nd_seconds_count 1\nd_seconds_bucket{le=\"+Inf\"} 1\n# EOF\n";
    assert_eq!(
        to_text_format(open),
        "# HELP d_seconds D.\n# TYPE d_seconds histogram\n\
         d_seconds_sum 0.5\nd_seconds_count 1\nd_seconds_bucket{le=\"+Inf\"} 1\n"
    );
}
