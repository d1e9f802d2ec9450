"""Rules for the known prompt-injection and jailbreak families.

Each rule is (label, score, pattern) over the folded, lowercased text (see
`security.normalise`). Scores are the rule's confidence that the text is an
attack; the detector reports the highest.
"""

from __future__ import annotations

import re

_PRIOR = r"(?:all\s+|any\s+|the\s+|your\s+|my\s+|of\s+|these\s+|those\s+)*(?:previous|prior|above|earlier|preceding|initial|original|system|old|existing|current|foregoing)"
_ORDERS = r"(?:instructions?|prompts?|rules|directions?|directives?|guidelines|guidance|context|commands?|constraints|programming|training|policies|restrictions)"

_DEVICES = r"(?:android|iphone|ios|phone|samsung|pixel|windows|mac|macos|chrome|firefox|browser|device|xbox|playstation|tesla|router|app|tv|laptop|computer)"
_LIMITS = r"(?:safety\s+|content\s+|ethical\s+|moral\s+)?(?:rules|constraints|restrictions|filters|guidelines|guidance|policies|programming|limitations|safeguards|guardrails|boundaries|ethics|morals)"

# (label, score, pattern, gate): the pattern only runs when one of the gate's words occurs
# in the text (a set lookup), or one of its non-word entries ("<|", "##") as a substring.
# Every gate entry is something the pattern cannot match without; a test checks it on the corpus.
RULES: list[tuple[str, float, re.Pattern[str], tuple[str, ...]]] = [
    (
        "instruction_override",
        0.93,
        re.compile(
            rf"\b(?:ignore|disregard|forget|override|skip|bypass|drop|abandon|discard|set\s+aside|throw\s+out|disable|lift|remove|turn\s+off|switch\s+off)\s+(?:all\s+(?:of\s+)?|any\s+(?:of\s+)?)?(?:your|the\s+(?:safety|content|ethical))\s+{_LIMITS}"
        ),
        (
            "ignore",
            "ignoring",
            "disregard",
            "forget",
            "override",
            "overriding",
            "skip",
            "bypass",
            "drop",
            "abandon",
            "discard",
            "aside",
            "throw",
            "disable",
            "lift",
            "remove",
            "turn",
            "switch",
        ),
    ),
    (
        "instruction_override",
        0.92,
        re.compile(
            r"\b(?:previous|prior|original|earlier|old|initial)\s+(?:instructions|rules|directives|guidelines|prompts?)\s+(?:are|is|were)\s+(?:now\s+)?(?:outdated|void|cancell?ed|obsolete|revoked|invalid|no\s+longer\s+(?:valid|apply|in\s+effect))|\bignore\s+the\s+(?:above|system\s+(?:message|prompt))\b|\byour\s+(?:new|real|actual|updated|true)\s+(?:task|job|goal|directive|instructions?|purpose|mission)\s+(?:is|are|will\s+be)\b"
        ),
        ("previous", "prior", "original", "earlier", "old", "initial", "ignore", "your"),
    ),
    (
        "jailbreak_persona",
        0.9,
        re.compile(
            rf"\b(?:ai|assistant|model|chatbot|bot|you|yourself)\b[^.?!]{{0,60}}?\b(?:without|with\s+no|free\s+(?:of|from)|freed\s+from|liberated\s+from|escaped)\s+(?:any\s+|all\s+)?(?:[\w']+\s+){{0,2}}?{_LIMITS}|\b(?:you\s+are|you're|imagine\s+you\s+are|as\s+a)\s+(?:now\s+)?jailbroken\b|\bact\s+as\s+my\s+(?:deceased|late|dead)\s+(?:grandma|grandmother|grandfather)\b"
        ),
        ("ai", "assistant", "model", "chatbot", "bot", "you", "jailbroken", "act"),
    ),
    (
        "instruction_override",
        0.97,
        re.compile(
            rf"\b(?:ignore|disregard|forget|override|skip|bypass|drop|abandon|discard|neglect|set\s+aside|throw\s+out)\b[\w\s,'-]{{0,20}}?{_PRIOR}\s+{_ORDERS}"
        ),
        (
            "ignore",
            "ignoring",
            "disregard",
            "forget",
            "override",
            "overriding",
            "skip",
            "bypass",
            "drop",
            "abandon",
            "discard",
            "neglect",
            "aside",
            "throw",
        ),
    ),
    (
        "instruction_override",
        0.93,
        re.compile(
            rf"\b(?:ignore|disregard|forget)\s+(?:everything|all(?:\s+of)?\s+(?:that|this|it))\b.{{0,40}}?\b(?:said|told|above|before|{_ORDERS})"
        ),
        ("ignore", "disregard", "forget"),
    ),
    (
        "instruction_override",
        0.9,
        re.compile(
            r"\b(?:new|updated|real|actual|true)\s+(?:instructions?|rules|system\s+prompt|directive)s?\s*(?::|are\b|follow\b)"
        ),
        ("new", "updated", "real", "actual", "true"),
    ),
    (
        "instruction_override",
        0.9,
        re.compile(
            r"\b(?:from\s+now\s+on|henceforth|for\s+the\s+rest\s+of\s+this\s+conversation),?\s+you\s+(?:will|are|must|shall)\s+(?:no\s+longer|not|ignore|answer\s+without|respond\s+without|act\s+as|be\s+(?:free|unrestricted|unfiltered))"
        ),
        ("now", "henceforth", "rest"),
    ),
    (
        "jailbreak_persona",
        0.97,
        re.compile(
            r"\bdo\s+anything\s+now\b|\byou\s+are\s+(?:now\s+)?dan\b|\bdan\s+mode\b|\bstan\s+mode\b"
        ),
        ("anything", "dan", "stan"),
    ),
    (
        "jailbreak_persona",
        0.93,
        re.compile(
            r"\b(?:you\s+are|you're|act\s+as|pretend\s+(?:to\s+be|you\s+are)|roleplay\s+as|become)\b.{0,80}?\b(?:without|no|free\s+(?:of|from))\s+(?:any\s+)?(?:restrictions|limits|limitations|filters|rules|guidelines|censorship|ethic(?:s|al\s+guidelines)|morals|boundaries|content\s+polic(?:y|ies))"
        ),
        ("you", "act", "pretend", "roleplay", "become"),
    ),
    (
        "jailbreak_persona",
        0.92,
        re.compile(
            r"\b(?:unfiltered|uncensored|unrestricted|unaligned|amoral|unbound|jailbroken)\s+(?:ai|assistant|model|chatbot|mode|version|persona|character)\b"
        ),
        (
            "unfiltered",
            "uncensored",
            "unrestricted",
            "unaligned",
            "amoral",
            "unbound",
            "jailbroken",
        ),
    ),
    (
        "jailbreak_persona",
        0.9,
        re.compile(
            r"\b(?:has|have|with)\s+(?:broken|been\s+freed|escaped)\s+(?:free\s+)?(?:of|from)?\s*(?:the\s+)?(?:typical\s+)?(?:confines|restrictions|rules)|\bjailbreak(?:ed)?\s+mode\b|\bstay\s+in\s+character\b.{0,80}\b(?:no\s+matter|always|never\s+refuse)"
        ),
        ("broken", "freed", "escaped", "jailbreak", "character"),
    ),
    (
        "jailbreak_persona",
        0.9,
        re.compile(
            r"\b(?:never|don't|do\s+not|must\s+not|cannot|can't|won't)\s+(?:refuse|decline|say\s+(?:no|you\s+can't)|apologi[sz]e|add\s+warnings|mention\s+(?:ethics|policies|guidelines))\b.{0,60}?\b(?:any|every|no\s+matter|whatever|regardless)"
        ),
        ("never", "don", "not", "not", "cannot", "can", "won"),
    ),
    (
        "developer_mode",
        0.95,
        re.compile(
            r"\b(?:developer|dev|god|debug|sudo|admin|maintenance|root|unlocked|evil|unrestricted)\s+mode\b(?!\s+(?:on|in|for)\s+(?:my\s+|the\s+|an?\s+)?"
            + _DEVICES
            + r")[^.?!]{0,40}?\b(?:enabled|activated|unlocked|engaged|is\s+now\s+on)\b|\b(?:enable|activate|enter|switch\s+to|turn\s+on)\s+(?:the\s+)?(?:developer|dev|god|debug|sudo|admin|maintenance|unlocked|evil|unrestricted)\s+mode\b(?!\s+(?:on|in|for)\s+(?:my\s+|the\s+|an?\s+)?"
            + _DEVICES
            + r")"
        ),
        ("mode",),
    ),
    (
        "system_prompt_extraction",
        0.95,
        re.compile(
            r"\b(?:reveal|show|print|repeat|output|display|leak|dump|give\s+me|tell\s+me|what\s+(?:is|are|was|were)|recite|spell\s+out|paste|copy)\b[\w\s,'-]{0,20}?\b(?:your|the|its)\s+(?:full\s+|entire\s+|exact\s+|complete\s+|whole\s+)?(?:system|initial|original|hidden|secret|internal|pre-?prompt|base|confidential)\s+(?:prompt|instructions?|message|rules|configuration|guidelines)"
        ),
        (
            "reveal",
            "show",
            "print",
            "repeat",
            "output",
            "display",
            "leak",
            "dump",
            "give",
            "tell",
            "what",
            "recite",
            "spell",
            "paste",
            "copy",
        ),
    ),
    (
        "system_prompt_extraction",
        0.92,
        re.compile(
            r"\b(?:reveal|show|print|output|display|leak|dump|disclose|write\s+out|share|recite|tell\s+me)\b[^.?!]{0,30}?\b(?:system\s+(?:prompt|message)|hidden\s+(?:instructions?|prompt|system\s+message|rules)|confidential\s+(?:instructions?|rules)|your\s+(?:full\s+|entire\s+|whole\s+)?(?:prompt|instructions|rules)\b)|\b(?:text|words|everything)\b[^.?!]{0,30}?\b(?:before|above|prior\s+to)\s+(?:my\s+first|this|the\s+first)\s+message|\bwhat\s+were\s+you\s+told\b"
        ),
        (
            "reveal",
            "show",
            "print",
            "output",
            "display",
            "leak",
            "dump",
            "disclose",
            "write",
            "share",
            "recite",
            "tell",
            "before",
            "above",
            "prior",
            "told",
        ),
    ),
    (
        "system_prompt_extraction",
        0.9,
        re.compile(
            r"\b(?:repeat|print|output|copy|recite)\s+(?:back\s+)?(?:the\s+|all\s+(?:the\s+)?)?(?:text|words|everything|lines|content)\s+(?:above|before|preceding|prior)\b|\bwhat\s+(?:were|are)\s+you\s+told\s+(?:before|at\s+the\s+start|initially)\b|\bstarting\s+with\s+['\"]you\s+are\b"
        ),
        (
            "repeat",
            "print",
            "output",
            "copy",
            "recite",
            "told",
            "told",
            "starting",
        ),
    ),
    (
        "delimiter_injection",
        0.95,
        re.compile(
            r"<\|?\s*im_(?:start|end)\s*\|?>|<\|(?:system|endoftext|assistant)\|>|\[/?inst\]|<</?sys>>|</?\s*system\s*>\s*\S|\b(?:end\s+of\s+(?:user\s+)?(?:input|prompt|document|conversation))\b.{0,40}?\b(?:system|new\s+instructions?|assistant)\b"
        ),
        ("im_", "<|", "inst]", "<<sys", "<</sys", "system", "end"),
    ),
    (
        "delimiter_injection",
        0.9,
        re.compile(
            r"(?:^|\n)\s*(?:#{2,}|={3,}|-{3,}|\*{3,})\s*(?:system|new\s+instructions?|admin|override)\b|\"role\"\s*:\s*\"system\""
        ),
        ("##", "===", "---", "***", '"role"'),
    ),
    (
        "payload_splitting",
        0.88,
        re.compile(
            r"\b(?:obey|follow|execute|carry\s+out)\s+the\s+(?:hidden|secret|encoded)\s+(?:command|instruction|message)s?\b"
        ),
        ("obey", "follow", "execute", "carry"),
    ),
    (
        "payload_splitting",
        0.9,
        re.compile(
            r"\b(?:concatenate|combine|join|put\s+together|merge)\b.{0,60}?\b(?:strings|parts|pieces|variables|fragments|letters)\b.{0,60}?\b(?:execute|follow|obey|do\s+what|answer|respond\s+to|carry\s+out|act\s+on)\b|\b[a-z]\s*=\s*['\"][^'\"]{1,60}['\"]\s*[;,\n]\s*[a-z]\s*=\s*['\"][^'\"]{1,60}['\"].{0,80}?\b(?:[a-z]\s*\+\s*[a-z])\b"
        ),
        ("concatenate", "combine", "join", "together", "merge", "="),
    ),
    (
        "indirect_injection",
        0.93,
        re.compile(
            r"\b(?:ai|assistant|model|chatbot|llm|language\s+model|agent|gpt|claude)s?\b[\w\s,]{0,30}?\b(?:reading|processing|summari[sz]ing|parsing|seeing|analy[sz]ing)\s+this\b|\b(?:instructions?|note|message)\s+(?:for|to)\s+(?:the\s+|any\s+)?(?:ai|assistant|model|llm|agent|chatbot|language\s+model)\b|\b(?:do\s+not|don't|never)\s+mention\s+(?:this|these)\s+(?:note|instructions?|paragraph|message|text)\b|\[(?:admin|system|developer)\s+(?:override|mode|instruction)\]"
        ),
        (
            "ai",
            "assistant",
            "model",
            "chatbot",
            "llm",
            "agent",
            "gpt",
            "claude",
            "instruction",
            "note",
            "message",
            "mention",
            "[admin",
            "[system",
            "[developer",
        ),
    ),
    (
        "indirect_injection",
        0.9,
        re.compile(
            r"\b(?:do\s+not|don't|never)\s+(?:tell|inform|mention\s+(?:this\s+)?to|reveal\s+(?:this\s+)?to|alert|let)\s+(?:the\s+)?user\b|\bwithout\s+(?:telling|informing|alerting)\s+the\s+user\b"
        ),
        ("not", "don", "never", "without"),
    ),
    (
        "indirect_injection",
        0.9,
        re.compile(
            r"\b(?:send|forward|post|upload|exfiltrate|email|leak)\b.{0,40}?\b(?:conversation|chat\s+history|user'?s?\s+(?:data|password|credentials|emails?|files)|api\s+keys?|credentials|secrets)\b.{0,40}?\b(?:to|at)\s+(?:https?://|\S+@\S+|the\s+following|this\s+(?:url|address|server))"
        ),
        ("send", "forward", "post", "upload", "exfiltrate", "email", "leak"),
    ),
]

# Text that discusses attacks rather than making one (security questions,
# classroom examples): a hit here lowers the rule score below the default threshold.
DISCUSSION = re.compile(
    r"\b(?:how\s+(?:do|can|should|would|to)\s+(?:i\s+|we\s+|you\s+)?(?:detect|prevent|defend|protect|mitigate|stop|block|guard|test\s+for|handle|recogni[sz]e)|what\s+is\s+(?:a\s+)?(?:prompt\s+injection|jailbreak)|explain\s+(?:what\s+)?(?:prompt\s+injection|jailbreak)|examples?\s+of\s+(?:a\s+)?(?:prompt\s+injection|jailbreak)|(?:research|paper|survey|classifier|detector|filter)\s+(?:on|about|for)\s+(?:prompt\s+injection|jailbreak)|owasp)"
)
DISCUSSION_SCORE = 0.35
# DISCUSSION cannot match without one of these (a cheap test before the regex).
DISCUSSION_CUES = (
    "how",
    "what is",
    "explain",
    "example",
    "research",
    "paper",
    "survey",
    "classifier",
    "detector",
    "filter",
    "owasp",
)
