"""Reply classifier: measured accuracy on a held-out labelled set."""

import logging
from collections import Counter

from streams.replies import ReplyClassifier, strip_quoted
from tests.streams.reply_testset import TEST_SET

log = logging.getLogger(__name__)


def test_accuracy_on_held_out_labelled_set():
    clf = ReplyClassifier()
    wrong = [(text, want, clf.classify(text).label) for text, want in TEST_SET
             if clf.classify(text).label != want]
    accuracy = 1 - len(wrong) / len(TEST_SET)
    per_label = Counter(want for _, want, _ in wrong)
    log.warning("reply classifier accuracy %.1f%% on %d held-out replies; misses by label %s: %s",
                100 * accuracy, len(TEST_SET), dict(per_label), wrong)
    assert accuracy >= 0.85
    # Unsubscribe requests are a legal obligation: none may be missed.
    assert per_label["unsubscribe_request"] == 0


def test_quoted_footer_does_not_make_an_opt_out():
    text = "Sounds great, call me.\n\nOn Mon, Bob wrote:\n> Unsubscribe here"
    assert strip_quoted(text).strip() == "Sounds great, call me."
    result = ReplyClassifier().classify(text)
    assert result.label == "interested" and result.positive


def test_empty_and_odd_replies_do_not_raise():
    clf = ReplyClassifier()
    assert clf.classify(None).label == "auto_reply"
    assert clf.classify("\u2603\u2603 ???").label in clf.labels
