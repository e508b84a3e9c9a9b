"""Unsubscribe requests in the wordings recipients use, in seven languages, against replies that
must not be read as one. Prints recall and precision for the report (run with -s)."""

from streams.replies import ReplyClassifier

OPT_OUTS = [
    "Remove me from your list.", "please take me off this mailing list", "Stop emailing me.",
    "unsubscribe", "UNSUBSCRIBE!!", "Don't email me again.", "Do not contact us again.",
    "No more emails please.", "Delete my data, I never signed up.", "stop", "Please opt me out.",
    "Take my address off your list, thanks.", "Never contact me again.",
    "Stop spamming me.", "Remove us from all future mailings.",
    "Bitte austragen.", "Bitte keine weiteren E-Mails.", "Entfernen Sie mich aus dem Verteiler.",
    "Ich möchte mich abmelden.",
    "Merci de me désinscrire.", "Je ne veux plus recevoir vos messages, retirez-moi.",
    "Arrêtez de m'envoyer des mails.",
    "Por favor, darme de baja.", "No me escriban más.", "Quiero que me eliminen de la lista, "
    "eliminarme de la lista por favor.",
    "Per favore cancellami dalla lista.", "Non scrivetemi più.", "Vorrei disiscrivermi.",
    "Por favor, me descadastrem.", "Não quero mais receber esses e-mails.",
    "Graag uitschrijven.", "Geen mails meer alstublieft.",
]
NOT_OPT_OUTS = [
    "Thanks, can we talk Tuesday about the removal of manual steps?",
    "Stop by our booth next week and we can chat.", "We stopped using our old CRM last year.",
    "Please send me the pricing sheet.", "I'm out of office until Monday.",
    "Can you remove the second paragraph from the proposal and resend?",
    "Sounds interesting, what does it cost for 20 seats?", "Not now, maybe next quarter.",
    "Wir sind interessiert, bitte schicken Sie ein Angebot.", "Merci, envoyez-moi la démo.",
    "Me interesa, ¿podemos hablar el jueves?", "Interessante, possiamo sentirci domani?",
    "Can't talk this month, follow up in spring.", "Who else uses this in our industry?",
]


def test_unsubscribe_requests_are_caught_in_seven_languages():
    clf = ReplyClassifier()
    missed = [t for t in OPT_OUTS if clf.classify(t).label != "unsubscribe_request"]
    false = [t for t in NOT_OPT_OUTS if clf.classify(t).label == "unsubscribe_request"]
    recall = 1 - len(missed) / len(OPT_OUTS)
    precision = (len(OPT_OUTS) - len(missed)) / max(1, len(OPT_OUTS) - len(missed) + len(false))
    print(f"unsubscribe requests: recall {recall:.0%} ({len(OPT_OUTS)} opt-outs), precision "
          f"{precision:.0%} ({len(NOT_OPT_OUTS)} other replies)")
    assert missed == [] and false == []
