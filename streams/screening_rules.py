"""The patterns intake's screening (streams/screening.py) applies to a lead's text, by rule name.

Instructions are matched in the languages the leads come in (English, Spanish, French, German,
Portuguese, Italian, Dutch, Polish, Russian, Japanese, Chinese, Korean) as three shapes that
every injection seen so far takes: "ignore <the previous> instructions", "reply <only/exactly>
with X" and "you are now / act as" (role play), plus prompt markup (chat-template tags, code
fences, JSON role keys, HTML comments, "system:" lines). Latin and Cyrillic words are anchored
on a word boundary; CJK has no spaces, so its phrases are matched as they are.

``triggered`` is the fast pre-filter: a text it does not match can break no rule, so screening
skips the ~20 rule patterns (most clean fields: a name, a picklist title). Every rule below
needs one of its alternatives: a keyword stem the rule starts with, or a character every link,
address, markup, header or secret needs ("@", ":", "/", "<", a digit run, a long token...).
tests/streams/test_screening.py checks the fast path equals the full rules on every hostile and
clean lead, so a rule added here without its trigger fails there.
"""

from __future__ import annotations

import re

_I = re.IGNORECASE | re.MULTILINE

# --- "ignore the previous instructions" ------------------------------------------------------
# Latin/Cyrillic verb stems (imperative forms of ignore / disregard / forget / skip / override).
_IGNORE_WORDS = (
    r"z?ignor\w*|disregard\w*|forget|overrid\w*|bypass\w*|vergiss|vergessen|vergesst|"
    r"missacht\w*|oubli\w*|olvid\w*|descart\w*|omit\w*|esque[cç]\w*|desconsider\w*|"
    r"dimentic\w*|trascur\w*|negeer\w*|vergeet|zapomnij\w*|pomi[nń]\w*|lekcewa\w*|"
    r"проигнорир\w*|игнорир\w*|забудь\w*|не\s+обращай\w*")
# CJK verbs: "無視/忽略/忽视/무시" (ignore), "忘れ/忘记/잊어" (forget).
_IGNORE_CJK = r"無視|忽略|忽视|不要理会|무시|忘れ|忘记|잊어|잊으"
_RULES_WORDS = (
    r"instruction\w*|rules?|prompts?|guidelines?|directions?|directives?|context|"
    r"anweisung\w*|instruktion\w*|regeln|vorgaben|befehl\w*|consignes?|r[èe]gles|"
    r"instrucci\w*|[óo]rdenes|instru[cç][õo]es|regras|istruzion\w*|regole|instructies|"
    r"aanwijzingen|regels|instrukcj\w*|polece[nń]\w*|zasad\w*|инструкци\w*|указани\w*|"
    r"правил\w*|команд\w*")
_RULES_CJK = r"指示|指令|命令|说明|規則|规则|ルール|プロンプト|提示词|지시|지침|명령|규칙|프롬프트"
IGNORE_RULE = re.compile(
    rf"(?:\b(?:{_IGNORE_WORDS})\b|{_IGNORE_CJK})[\s\S]{{0,60}}?(?:\b(?:{_RULES_WORDS})\b|"
    rf"{_RULES_CJK})|(?:{_RULES_CJK})[\s\S]{{0,12}}?(?:{_IGNORE_CJK})", _I)

# --- "reply only with X" ---------------------------------------------------------------------
_REPLY_WORDS = (
    r"respond\w*|reply|answer|output|print|say|write|return|repeat|include|insert|add|append|"
    r"mention|state|tell|use|begin|start|antworte\w*|gib|schreib\w*|sag|wiederhol\w*|"
    r"r[ée]pond\w*|[ée]cri[sv]\w*|dis|r[ée]p[èe]te\w*|respond[ae]\w*|contest\w*|escrib\w*|"
    r"di|dec[ií]\w*|repit\w*|diga|rispond\w*|scriv\w*|ripet\w*|antwoord\w*|schrijf|zeg|"
    r"herhaal|odpowi\w*|napisz|powt[oó]rz|powiedz|ответ\w*|напиши|выведи|скажи|повтори")
_ONLY_WORDS = (
    r"only|exactly|verbatim|the word|the phrase|the following|this (?:line|text|sentence|link|"
    r"url)|word for word|nur|ausschlie(?:ß|ss)lich|genau|w[öo]rtlich|uniquement|seulement|"
    r"exactement|mot pour mot|solo|s[óo]lo|solamente|[úu]nicamente|exactamente|literalmente|"
    r"apenas|somente|exatamente|soltanto|esattamente|alleen|enkel|precies|letterlijk|tylko|"
    r"wy[łl][ąa]cznie|dok[łl]adnie|только|лишь|ровно|дословно")
# Japanese "…とだけ返信/答え/出力", Chinese "只/仅 回复/回答/输出", Korean "…만/로만 답/응답/출력".
_REPLY_CJK = (r"(?:とだけ|だけを?|のみ(?:を|で)?)\s*(?:返信|返答|回答|答え|出力|書い|言っ)|"
              r"(?:只|仅|僅)(?:需|要)?(?:回复|回答|输出|答复|说|写)|原样(?:输出|回复)|"
              r"(?:만|로만|라고만)\s*(?:답|응답|출력|회신|말해|써)|그대로\s*(?:출력|답)|そのまま(?:出力|返信)")
REPLY_RULE = re.compile(
    rf"\b(?:{_REPLY_WORDS})\b[^.\n。]{{0,30}}\b(?:{_ONLY_WORDS})\b|{_REPLY_CJK}", _I)

# --- role play / addressed to the model ------------------------------------------------------
_ROLE_WORDS = (
    r"you are (?:now|an?|the)\b|from now on,? you\b|as an ai\b|language model|system prompt|"
    r"assistant:|new instructions?|jailbreak|developer mode|act as\b|pretend (?:to be|you)|"
    r"roleplay|role-play|do anything now|du bist (?:jetzt|ab sofort|nun)|sie sind (?:jetzt|nun)|"
    r"ab (?:jetzt|sofort) bist du|tu es (?:maintenant|d[ée]sormais)|vous [êe]tes (?:maintenant|"
    r"d[ée]sormais)|d[ée]sormais,? tu|fais comme si|agis comme|ahora eres|eres ahora|"
    r"a partir de ahora,? (?:eres|t[úu]|usted)|act[úu]a como|haz como si|agora voc[êe] [ée]|voc[êe] agora [ée]|"
    r"a partir de agora,? (?:voc[êe]|tu)|aja como|finja|ora sei|adesso sei|d'ora in poi,? (?:sei|tu)|comportati come|fingi|"
    r"je bent nu|u bent nu|vanaf nu,? (?:ben je|je|jij)\b|gedraag je als|doe alsof|jeste[śs] teraz|teraz jeste[śs]|"
    r"od teraz,? (?:jeste[śs]|ty)\b|udawaj|zachowuj si[ęe] jak|теперь ты|ты теперь|отныне ты|притворись|"
    r"веди себя как|neue anweisung\w*|nouvelles? instructions?|nuevas? instrucci\w*|"
    r"novas? instru[cç]\w*|nuove istruzion\w*|nieuwe instructies|nowe instrukcj\w*|"
    r"новые инструкци\w*")
_ROLE_CJK = (r"あなたは今|今からあなたは|これからあなたは|として振る舞|になりきって|新しい指示|"
             r"你现在是|现在你是|从现在开始你|扮演|新的指令|新指令|너는 이제|당신은 이제|이제부터 (?:너|당신)|"
             r"역할을 해|새로운 지시|새 지시")
ROLE_RULE = re.compile(rf"\b(?:{_ROLE_WORDS})|{_ROLE_CJK}", _I)

# --- prompt markup ---------------------------------------------------------------------------
# "system:" where a role label stands (line start, after markup or a quote), in every language
# ("システム：" is "システム:" after NFKC); a CRM note's "ERP system: SAP" is not flagged.
_ROLE_LABEL = (r"system|assistant|developer|user|sistema|syst[èe]me|systeem|systemu?|"
               r"система|システム|系统|系統|시스템")
MARKUP_RULE = re.compile(
    r"<\s*/?\s*(?:system|assistant|user|instructions?|im_start|im_end|s)\s*>|"
    r"<\|[a-z_]+\|>|\[/?INST\]|<<\s*SYS\s*>>|<(?:start|end)_of_turn>|^\s*###|```|~~~|"
    rf"(?:^|[\[\({{<\"'`>|#*:-])\s*(?:{_ROLE_LABEL})\s*[:>\]]|(?-i:\bSYSTEM\s*:)|"
    r"[\"'](?:role|system|instructions?|prompt|content|messages)[\"']\s*:", _I)
HTML_RULE = re.compile(r"<!--|-->|<\s*/?\s*(?:script|iframe|img|a|style|object|embed|svg|meta|"
                       r"link|form|input|body|html|div|span|p|br)\b[^>]{0,200}>", _I)

INSTRUCTION_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ignore previous instructions", IGNORE_RULE),
    ("output directive", REPLY_RULE),
    ("addressed to the model", ROLE_RULE),
    ("prompt markup", MARKUP_RULE),
    ("html", HTML_RULE),
    ("fake header or postscript", re.compile(
        r"^\s*(?:subject|from|to|cc|bcc|reply-to|content-type|mime-version|x-[\w-]+|"
        r"list-unsubscribe|betreff|objet|asunto|assunto|oggetto|onderwerp|temat|тема|件名|"
        r"主题|제목)\s*:|\bP\.?\s?S\.?\s*[:\-]|\bpost ?script\b", _I)),
)
_CRED_WORDS = (r"password|passwort|passwd|pwd|passcode|pin|api[_ -]?key|secret|token|"
               r"credentials?|login|mot de passe|contrase[ñn]a|senha|has[łl]o|wachtwoord|пароль")
SECRET_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("credential", re.compile(
        rf"\b(?:{_CRED_WORDS})\b\s*(?:is\b|:|=|ist\b|est\b|es\b|[ée]\b|jest\b)\s*\S+",
        _I)),
    ("private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("cloud key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b|\bsk-[A-Za-z0-9_-]{20,}|"
                             r"\bgh[pousr]_[A-Za-z0-9]{30,}|\bxox[abpr]-[A-Za-z0-9-]{10,}")),
    # Digits and letters mixed in one 32+ character run (lookaheads, bounded by the run itself,
    # so a long run costs linear time: an unbounded lookahead was quadratic on 950 kB).
    ("long opaque token", re.compile(r"(?<![A-Za-z0-9+/_-])(?=[A-Za-z+/_-]{0,64}\d)"
                                     r"(?=[0-9+/_-]{0,64}[A-Za-z])[A-Za-z0-9+/_-]{32,}")),
    ("card number", re.compile(r"\b(?:\d[ -]?){13,19}\b")),
)
# A base64 run: 16+ characters of the alphabet, decoded by screening.base64_texts; only a run
# that decodes to readable text counts ("Internationalization" decodes to binary noise).
BASE64_RE = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{16,}={0,2}")

# The pre-filter: every rule above needs one of these, and a text with none of them is clean.
# Characters: ":" (headers, role labels, schemes, JSON, "key: value"), "/" "<" "@" "`" "~" "#"
# "=" "[" "{" "|" "\\", "---"; a dot before two letters (every domain's TLD; "S.A." and
# "Sp. z o.o." are not domains) or between digits (IPv4); 3 digits or separators in a row after a
# digit (phones, cards).
# The lookahead names every alternative's first character, so re skips a position with one
# set test instead of trying five branches there (1.5-2x faster on leadgen's fields).
TRIGGER_CHARS = re.compile(r"(?=[:/<>@`~#=\[\]{}|\\.\d-])"
                           r"(?:[:/<>@`~#=\[\]{}|\\]|---|\.[^\W\d_]{2}|\d\.\d|\d[\d\s().-]{2,})")
# A 16+ character run is a key or base64 unless it is a plain word ("telecommunications",
# "Versicherungsgesellschaft"): base64 of 12+ characters of text mixes cases or has digits.
TRIGGER_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}")
PLAIN_WORD = re.compile(r"[A-Z]?[a-z]+")
# Words (casefolded): for each rule one word every match contains. "reply only" needs an ONLY
# word (rarer in a CRM note than "say" or "add"); role play its least common word ("you are
# now": "you"); "ignore" and credentials their own stems. A stem ends in "*": a prefix.
_TRIGGER_WORDS = """
ignor* zignor* disregard* forget overrid* bypass* vergiss vergessen vergesst missacht* oubli*
olvid* descart* omit* esquec* esqueç* desconsider* dimentic* trascur* negeer* vergeet zapomnij*
pomin* pomiń* lekcewa* проигнорир* игнорир* забудь* обращай*
only exactly verbatim word phrase following line text sentence link url nur ausschließlich
ausschliesslich genau wörtlich wortlich uniquement seulement exactement mot solo sólo solamente
únicamente unicamente exactamente literalmente apenas somente exatamente soltanto esattamente
alleen enkel precies letterlijk tylko wyłącznie wylacznie wyłacznie wylącznie dokładnie
dokladnie только лишь ровно дословно
you ai model prompt* assistant instruction* jailbreak developer act pretend roleplay role
anything bist sind maintenant désormais desormais fais agis eres partir actúa actua haz agora
aja finja sei poi comportati fingi bent vanaf gedraag alsof teraz udawaj zachowuj теперь
отныне притворись веди anweisung* instrucci* instruc* instruç* istruzion* instrukcj*
инструкци* nouvelle* nuova* nueva*
password passwort passwd pwd passcode pin api* secret token credential* login passe
contraseña contrasena senha hasło haslo wachtwoord пароль xox* ps p postscript post
""".split()
TRIGGER_WORDS = frozenset(w for w in _TRIGGER_WORDS if not w.endswith("*"))
TRIGGER_PREFIXES = tuple(w[:-1] for w in _TRIGGER_WORDS if w.endswith("*"))
TRIGGER_WORD = re.compile(r"\w+")


def _trie_pattern(words: frozenset[str], prefixes: tuple[str, ...]) -> str:
    """One regex for "a \\w+ word of the text is one of ``words`` or starts with one of
    ``prefixes``", its alternatives nested by shared beginnings (a trie): re tries one branch
    per character instead of all ~190 alternatives at every word start."""
    trie: dict[str, dict] = {}
    for word, mark in [(w, "$") for w in words] + [(p, "*") for p in prefixes]:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[mark] = {}

    def emit(node: dict[str, dict]) -> str:
        if "*" in node:  # a prefix ends here: any continuation matches
            return ""
        alternatives = [re.escape(char) + emit(child)
                        for char, child in sorted(node.items()) if char != "$"]
        if "$" in node:  # a whole word ends here: the text's word must end too
            alternatives.append(r"\b")
        return alternatives[0] if len(alternatives) == 1 else f"(?:{'|'.join(alternatives)})"

    return r"\b" + emit(trie)


# Applied to the casefolded text, as the words were compared: the same answers as looking each
# word up (tests/streams/test_screening.py), in ~1/4 of the time (7 fields a lead).
TRIGGER_KEYWORD = re.compile(_trie_pattern(TRIGGER_WORDS, TRIGGER_PREFIXES))
# CJK has no word boundaries: its phrases are searched as they are, in text that has CJK.
TRIGGER_CJK = re.compile(f"{_IGNORE_CJK}|{_RULES_CJK}|{_REPLY_CJK}|{_ROLE_CJK}")
HAS_CJK = re.compile("[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def triggered(norm: str) -> bool:
    """Whether normalized text ``norm`` could break any rule (False: it is clean)."""
    if TRIGGER_CHARS.search(norm):
        return True
    if any(not PLAIN_WORD.fullmatch(run) for run in TRIGGER_RUN.findall(norm)):
        return True
    if TRIGGER_KEYWORD.search(norm.casefold()):
        return True
    return not norm.isascii() and bool(HAS_CJK.search(norm)) and bool(TRIGGER_CJK.search(norm))
