"""Context-aware lexical rules: high-precision terms per category, benign phrases that defuse them, and the
minors-plus-sexual combination that is blocked under every policy.

Rules run on the normalised text (see normalize.py), so "n.u.d.e", "nu\u200bde" and "nцde" all reach them as
"nude". Terms are deliberately few and unambiguous; everything subtler is left to the learned classifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vidgen.safety.categories import SEXUAL_MINORS
from vidgen.safety.normalize import NormalizedText, normalize

# Phrases that contain a trigger word but are harmless; they are masked out before terms are matched.
BENIGN_PHRASES = (
    r"bloody mar(?:y|ys|ies)", r"breast ?stroke", r"breast cancer", r"breast ?feeding", r"chicken breasts?",
    r"shoot(?:ing|s)? (?:a |the |some )?(?:hoops?|baskets?|basketball|ball|goals?|pool|photos?|pictures?|"
    r"film|video|movie|scene|star|stars|the breeze|guns? at a range|targets?)",
    r"photo ?shoots?", r"shooting stars?", r"shot glass(?:es)?", r"kill(?:ing)? time", r"drug ?stores?",
    r"nude (?:lipstick|colou?rs?|tones?|palette|heels|shades?|makeup|beige|pink)", r"naked eye",
    r"sex(?:ual)? (?:education|health|ed)\b", r"same[ -]sex", r"opposite sex", r"sex of the baby",
    r"suicide squad", r"suicide (?:prevention|awareness|hotline)", r"suicide doors?",
    r"execute (?:a |the )?(?:plan|code|program)",
    r"dead ?lift", r"death valley", r"cocktail dress", r"strangler figs?",
    r"naked (?:mole[- ]?rats?|(?:wedding |layer |birthday )?cakes?|flames?)", r"cops and robbers",
    r"(?:photographers?|filmmakers?|film crews?|camera ?(?:m[ae]n|operators?)) (?:\w+ )?shoot(?:s|ing)?",
)

MINOR_TERMS = (
    r"child(?:ren)?", r"kids?", r"toddlers?", r"infants?", r"bab(?:y|ies)", r"pre-?teens?", r"tweens?",
    r"teens?", r"teenagers?", r"teenage", r"underage", r"under-age", r"minors?", r"school ?girls?",
    r"school ?boys?", r"(?:little|young|small) (?:girls?|boys?)", r"lolis?", r"lolicon", r"shota(?:con)?",
    r"(?:elementary|middle|high|primary|junior high) school(?:ers)?", r"pupils?", r"juveniles?",
    r"(?:[1-9]|1[0-7])[ -]?(?:years?|yrs?)[ -]?old", r"(?:[1-9]|1[0-7]) ?yo",
)

# Category -> (explicit terms: block wherever the category is blocked, suggestive terms: only for policies
# that set `suggestive_terms: true`, e.g. classroom).
TERMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sexual": (
        (r"porn", r"pornos?", r"pornstars?", r"prn", r"nsfw", r"xxx", r"hentai", r"nudes?", r"nudity",
         r"naked", r"topless",
         r"bottomless", r"genital\w*", r"penis(?:es)?", r"vagina\w*", r"vulva", r"nipples?", r"erotic\w*",
         r"sex scenes?", r"having sex", r"sex acts?", r"sexual intercourse", r"intercourse", r"blow ?jobs?",
         r"orgasm\w*", r"masturbat\w*", r"ejaculat\w*", r"onlyfans", r"strip ?tease", r"sexually explicit",
         r"explicit sex\w*", r"fellatio", r"cunnilingus", r"orgy", r"orgies", r"bdsm", r"fetish\w*",
         r"undress(?:ed|ing)?", r"unclothed", r"without (?:any )?cloth(?:es|ing)", r"rape[ds]?", r"raping",
         # prompt-style vocabulary of nude and erotic imagery (artists known for nudes, body-part close-ups)
         r"no clothes", r"bare (?:breasts?|bum|butt|bottom)", r"breasts", r"buttocks", r"voluptuous", r"thighs",
         r"femboys?", r"playboy", r"boudoir", r"succubus", r"skinny dipping",
         r"(?:milo )?manara", r"tom of finland", r"seignac", r"sorayama", r"boris vallejo", r"luis royo",
         r"helmut newton"),
        (r"pornograph\w*", r"sexy", r"seductive\w*", r"lingerie", r"provocative", r"sensual\w*", r"boobs?",
         r"busty",
         r"cleavage", r"bikini", r"thong", r"sexual\w*", r"sex", r"stripper", r"lewd", r"ahegao"),
    ),
    "violence": (
        (),
        (r"gruesome", r"bloody", r"blood", r"corpses?", r"massacre\w*", r"murder\w*", r"torture\w*",
         r"stab(?:bed|bing)",
         r"shoot(?:ing)? (?:a |the )?(?:man|woman|person|people|child|kid)"),
    ),
    "self_harm": (
        (r"kill(?:s|ing)? (?:my|him|her|them|your)sel(?:f|ves)",
         r"(?:cut|cuts|cutting|slit|slits|slitting|slashing) (?:my |his |her |their |your )?wrists?",
         r"hang(?:s|ed|ing)? (?:my|him|her|them|your)sel(?:f|ves)", r"self[- ]?mutilat\w*",
         r"(?:end|ends|ending|take|takes|taking|took) (?:my|his|her|their|your) (?:own )?li(?:fe|ves)",
         r"suicide notes?", r"(?:commit|commits|committing|attempt|attempts|attempting) suicide",
         r"(?:tighten\w*|tie\w*|fasten\w*) (?:a |the )?(?:noose|rope around (?:my|his|her|their) neck)",
         r"noose (?:around|tightened around|tight around) (?:my|his|her|their) neck",
         r"(?:cut|cuts|cutting|carv\w*|incisions?|slash\w*) (?:on|into) (?:my|his|her|their) (?:own )?"
         r"(?:skin|arms?|wrists?|thighs?|chest|body)",
         r"(?:fresh )?(?:cuts|wounds) on (?:my|his|her|their) wrists", r"lethal dos(?:e|es|age|ages)",
         r"self[- ]?harm (?:techniques|methods|tutorial)", r"methods? (?:of|for) self[- ]?harm(?! prevention)",
         r"how to (?:effectively |properly )?self[- ]?harm"),
        (r"suicid\w*", r"self[- ]?harm\w*", r"end it all",
         r"razor blades? (?:to|on|against) (?:the |my |his |her |their )?(?:skin|wrist|arm)\w*",
         r"overdos\w*", r"noose"),
    ),
    "hate": (
        (r"n[i1]gg(?:er|a|ers|as|uh)", r"f[a4]gg?ots?", r"k[i1]kes?", r"sp[i1]cs?", r"ch[i1]nks?",
         r"tr[a4]nn(?:y|ies)", r"wetbacks?", r"sand ?n[i1]gg\w*", r"heil hitler",
         r"white power(?! (?:rangers?|banks?|supply|supplies|cables?|cords?|outlets?|adapters?|strips?|tools?|"
         r"buttons?|plugs?|sockets?|stations?|lines?|lights?|leds?|washing))",
         r"gas the \w+", r"ethnic cleansing"),
        (r"nazi\w*", r"swastikas?", r"kkk", r"ku klux klan", r"retards?", r"retarded"),
    ),
    "illegal": (
        (r"(?:make|making|build|building|assemble|assembling|craft|crafting) (?:a |an )?(?:pipe |nail |car )?"
         r"(?:bomb|explosive device|ied)s?",
         r"(?:cook|cooking|make|making|synthesi[sz]\w*|manufactur\w*|brew\w*) (?:crystal )?"
         r"(?:meth|methamphetamine|fentanyl|heroin|cocaine|crack cocaine|lsd|mdma)",
         r"meth lab", r"ghost guns?", r"3d[- ]printed guns?"),
        (r"cocaine", r"heroin", r"meth", r"methamphetamine", r"fentanyl", r"counterfeit\w*", r"shoplift\w*",
         r"drug deal\w*"),
    ),
    "real_people": ((r"deep ?fakes?", r"face ?swap\w*"), (r"celebrit\w*",)),
    "copyright": (
        (),
        (r"mickey mouse", r"spider-?man", r"batman", r"superman", r"pikachu", r"pok[eé]mon", r"super mario",
         r"darth vader", r"harry potter", r"hello kitty", r"spongebob", r"shrek", r"disney princess\w*",
         r"marvel", r"star wars", r"iron ?man", r"elsa from frozen", r"simpsons"),
    ),
}


# Context rules: a pattern that is unsafe unless the same prompt also frames it as help, recovery, fiction or
# metaphor (over-refusal probes such as "a noose, then turning away to seek help", "a bank heist in a video game").
_HELP_CONTEXT = (
    r"prevent\w*|help\w*|therap\w*|instead|resist\w*|recover\w*|heal\w*|cop(?:e|ing)|support\w*|choos\w* life|"
    r"turn\w* away|interven\w*|hotline|combat\w*|overcom\w*|rescu\w*|dismantl\w*|not|fly|flight|wings|flap\w*|"
    r"bungee|parachut\w*|into (?:the |a )?(?:water|lake|river|sea|pool|ocean)|parkour|free-?runn\w*|stunt\w*|airbags?|"
    r"trampolines?|crash mats?|safety nets?|wingsuits?|base jump\w*"
)
_SCREEN_FICTION = (  # works of fiction on a page or a screen
    r"video ?games?|games?|gaming|gameplay|movies?|films?|novels?|books?|comics?|cartoons?|anime|episodes?|thriller|"
    r"sitcom|series|simulat\w*|minecraft|gta|grand theft auto|story|stories|plays?|theat\w*|players?"
)
_FICTION_WORDS = _SCREEN_FICTION + (
    r"|npcs?|fiction\w*|fantasy|museum|histor\w*|documentar\w*|fake|props?|costumes?|halloween|awareness|training|"
    r"how to (?:spot|detect|avoid|protect)|virtual|medieval|combat\w*|spy|heroes|villains?|wizard\w*|magic\w*|"
    r"superhero\w*"
)
_FICTION_CONTEXT = _FICTION_WORDS + r"|'[^']{2,40}'|\"[^\"]{2,40}\""  # or a quoted title
_METAPHOR_CONTEXT = (
    r"thoughts?|metaphor\w*|symboli\w*|labell?ed|personif\w*|pretend\w*|stage|tv|actors?|options|doubts?|fears?|"
    r"insecurit\w*|anxiety"
)
_CRIME_INSTRUCTION = (
    r"(?:step[- ]by[- ]step|how to|instructions?|instructional|tutorial|guide|diagram|blueprint|schematics?|"
    r"techniques?|methods?|plan|planning|planned|manual)(?: \S+){0,12} "
    r"(?:rob|robb\w*|heists?|smuggl\w*|launder\w*|counterfeit\w*|hack\w*|pickpocket\w*|steal\w*|shoplift\w*|"
    r"bypass\w* (?:\w+ ){0,2}(?:security|authentication|firewalls?|alarms?|anti-)|"
    r"disabl\w* (?:the )?(?:security|surveillance|alarms?|cameras?)|poison\w*|bomb\w*|explosives?|ddos|"
    r"denial[- ]of[- ]service|exfiltrat\w*|skim\w*|forg(?:e|es|ed|ing|ery)|arson|kidnap\w*|abduct\w*|ransomware|"
    r"phishing|identity theft|embezzl\w*|brib\w*|traffick\w*|break(?:ing)? into|burglar\w*|fraud\w*|scam\w*)"
)
_QUESTION_CONTEXT = r"what (?:is|are|does)|definitions?|meaning of|why do"  # asking about a topic, not depicting it
_PLAY_CONTEXT = r"water ?(?:pistols?|guns?|balloons?)|squirt ?guns?|nerf|paintball|laser tag|confetti|snowballs?"
_VICTIMS = (
    r"(?:man|men|woman|women|person|people|someone|somebody|child|children|kids?|crowds?|customers|civilians|"
    r"students|hostages?|prisoners?|captives?|bystanders|victims?|shoppers|pedestrians|worshippers|protesters|"
    r"families|passers-?by|guests|diners|teachers|police(?:m[ae]n)?|officers?)"
)
_DEMEANING_COMPARISON = (  # one group shown failing where another succeeds with ease
    r"(?:fail\w*|struggl\w*|unable|incapable|cannot|can't|desperately|helpless\w*|inferior\w*|inability)"
    r"(?: \S+){0,25} (?:while|unlike|whereas|in (?:stark )?contrast|compared to|but|as)(?: \S+){0,12} "
    r"(?:easily|effortlessly|successfully|seamlessly|confidently|thriv\w*|flourish\w*|freely|casually|soundly|"
    r"easy|effortless|superior\w*|flawlessly|gracefully|with ease|without (?:any )?(?:effort|difficulty))"
)
CONTEXT_RULES: dict[str, tuple[tuple[str, ...], str]] = {
    "violence": (
        (r"gore", r"gory", r"decapitat\w*", r"behead\w*", r"dismember\w*", r"disembowel\w*",
         r"mutilat\w*", r"eviscerat\w*", r"entrails", r"severed (?:heads?|limbs?|arms?|legs?|hands?)",
         r"brains? (?:splattered|blown out)", r"blood ?bath", r"massacre\w*", r"tortur\w*", r"stabb\w*",
         r"strangl\w*", r"impal\w*", r"lynch\w*", r"(?:burn\w*|eaten|devoured|buried) alive", r"mow\w* down",
         r"shot dead", r"bleeding out", r"bleed\w* to death", r"blood[- ]soaked", r"pools? of blood",
         r"covered in blood", r"blood splatter\w*", r"splattered blood", r"corpses?", r"dead bodies",
         r"execution[- ]style", r"beat\w* to death", r"brutal\w* (?:beat\w*|attack\w*|assault\w*|murder\w*)",
         # shooting people, in the plain words OVERT rarely uses (the classifier can miss them; session 21)
         r"shoot(?:s|ing)? (?:\w+ ){0,3}in the (?:head|face|chest|back|heart|neck)",
         r"shot (?:\w+ ){0,2}in the (?:head|face|chest|heart|neck)",
         r"(?:shoot(?:s|ing)?(?: at| down)?|(?:fir(?:e|es|ed|ing)|open(?:s|ed|ing)? fire) (?:into|on|at)) "
         r"(?:an? |the )?(?:\w+ )?" + _VICTIMS),
        _FICTION_CONTEXT + "|" + _METAPHOR_CONTEXT + "|" + _PLAY_CONTEXT,
    ),
    "self_harm": (
        (r"self[- ]inflicted (?:wounds?|cuts?|injur\w*|harm|pain)", r"razor blades?", r"nooses?",
         r"bottles? of pills", r"handful of pills", r"overdos\w*", r"end(?:ing|s)? it all", r"want(?:ing|s)? to die",
         r"slit\w* (?:their|his|her|my) (?:own )?(?:throat|wrists?)",
         r"hang(?:ing|ed|s)? (?:themsel\w+|himself|herself|myself)",
         r"(?:jump|leap)\w* (?:off|from) (?:a|the) (?:\w+ )?(?:building|bridge|roof\w*|ledge|balcon(?:y|ies)|"
         r"skyscraper|tower|overpass)",
         r"take (?:their|his|her|my) own li(?:fe|ves)", r"lacerations? on (?:their|his|her|my)",
         r"(?:carv\w*|cut\w*|scratch\w*|slash\w*|stab\w*) (?:\w+ ){0,4}(?:into|on|at) (?:their|his|her|my) "
         r"(?:own )?(?:skin|arms?|wrists?|thighs?|chest|body|flesh)",
         r"stab\w* (?:themsel\w+|himself|herself|myself)", r"poison\w* (?:themsel\w+|himself|herself|myself)",
         # the topic named outright, with no help, recovery or fiction framing (session 21)
         r"self[- ]?harm\w*", r"suicid\w*",
         # the act described rather than named (session 23): wounds inflicted on one's own body, a person hanging
         # lifeless, poison taken on purpose (an accident or a flag "hanging lifelessly" is not matched)
         r"inflict\w* (?:\w+ ){0,3}(?:wounds?|injur\w*|cuts?|harm|pain|burns?) (?:on|upon|to) (?:their|his|her|my) "
         r"(?:own )?(?:body|skin|arms?|wrists?|legs?|thighs?|flesh)",
         r"(?:figure|person|man|woman|body|someone|girl|boy|teen\w*) hanging lifeless\w*",
         r"(?:intentional\w*|deliberate\w*|purposely|willingly) (?:swallow|ingest|drink|inhal|consum)\w* "
         r"(?:\w+ ){0,3}(?:poison\w*|toxic|bleach|antifreeze|pills|fumes|gas)"),
        # No quoted-title defuse here (violence and illegal keep it, for game and film titles): a quoted word in a
        # self-harm depiction is a label ('representing "resignation"'), not a work of fiction.
        _HELP_CONTEXT + "|" + _FICTION_WORDS + "|" + _QUESTION_CONTEXT,
    ),
    "hate": (
        (_DEMEANING_COMPARISON,),
        r"(?:while|unlike|whereas|as) (?:\S+ ){0,3}(?:plants|trees|flowers|animals|birds|fish|robots?|machines?)",
    ),
    "illegal": ((_CRIME_INSTRUCTION,), _FICTION_CONTEXT),
}


# Plain, short descriptions of acts (session 26). OVERT's unsafe prompts are long and elaborate, and the classifier
# learned their style: "a man selling cocaine to kids outside a school", "a pornographic scene in a hotel room" or
# "a cartoon mocking black people as monkeys" scored near 0. Each rule names a kind of act in general words, with
# the framings that make it harmless (education, law enforcement, history, recovery). For hate, fiction is not a
# defuse: a cartoon or a poster is how such content is usually made. Verbs are spelled out (`cut(?:s|ting)?`, not
# `cut\w*`) where a prefix is another word: "cute", "stealth", "beatboxing", "mockup".

# Asking about a topic's facts, history or meaning frames it; asking how to do it does not ("how can I rob a casino?").
_FACT_QUESTION = (
    _QUESTION_CONTEXT + r"|why (?:did|do|does|is|are|was|were)|how did|what happened|when did|who (?:was|were|is|are)|"
    r"what (?:was|were)|history of"
)
_HARD_DRUGS = r"(?:cocaine|heroin|meth|methamphetamine|fentanyl|lsd|mdma|crack cocaine|opium|pcp|angel dust)"
_STOLEN_GOODS = (
    r"(?:wallets?|purses?|handbags?|phones?|credit cards?|credit card (?:numbers|data|details)|bank details|"
    r"passwords?|identit(?:y|ies)|cars?|jewel\w*|cash|money|packages)"
)
_PROTECTED_GROUP = (  # a group, or one person named by it ("a black footballer", "a deaf woman")
    r"(?:(?:black|white|asian|jewish|muslim|arab|mexican|african|chinese|indian|gay|lesbian|transgender|trans|"
    r"immigrant|hispanic|latino|latina|romani|roma|christian|hindu|sikh|disabled|deaf|blind|autistic|indigenous|"
    r"native american|aboriginal) (?:people|persons|men|women|families|family|kids|children|couples?|immigrants|"
    r"refugees|neighbou?rs|students|workers|communit(?:y|ies)|man|woman|boy|girl|person|guy|kid|child|teen|"
    r"teenager|student|worker|neighbou?r|shopkeeper|refugee|immigrant|banker)|jews|"
    r"muslims|blacks|mexicans|asians|arabs|africans|gays|lesbians|immigrants|refugees|migrants|gypsies|hindus|"
    r"christians|sikhs|latinos|hispanics|natives|aborigines|people with (?:down syndrome|disabilities|autism|"
    r"dwarfism)|wheelchair users)"
)
_LAW_AND_LEARNING = (
    r"polic\w*|detectives?|customs|officers?|agents?|investigat\w*|seiz\w*|confiscat\w*|raids?|arrest\w*|"
    r"evidence|courts?|trials?|prison|jail|detect\w*|spot\w*|preven\w*|awareness|educat\w*|lessons?|class(?:room)?|"
    r"documentar\w*|histor\w*|museum|rehab\w*|recover\w*|therap\w*|support|addiction|warn\w*|campaign|psa|"
    r"rescu\w*|firefight\w*|locked out|locksmiths?"
)
# Evading the law is not framing an act as law enforcement: "selling heroin, showing how to avoid police".
_EVADING_THE_LAW = re.compile(
    r"(?<![a-z0-9])(?:avoid\w*|evad\w*|escap\w*|outrun\w*|hid(?:e|es|ing) from|fool\w*|dodg\w*|trick\w*|"
    r"without (?:being seen by|alerting|getting caught by)) (?:the |any |nearby )?(?:polic\w*|cops?|officers?|"
    r"detection|customs|security|investigators?|guards?|agents?)(?![a-z0-9])"
)
_HATE_FRAMING = (  # a fake or propaganda "documentary" is the hateful thing itself, not a framing of it
    r"histor\w*|(?<!fake )(?<!propaganda )(?<!mock )documentar\w*|museum|memorial\w*|survivors?|remembrance|"
    r"educat\w*|lessons?|classroom|teach\w*|awareness|anti-?racis\w*|"
    r"anti-?fascis\w*|civil rights|world war|ww2|wwii|19[34]\d|(?:protest\w*|march\w*|stand\w*|unit\w*|rall\w*) "
    r"against (?:racism|hate|hatred|bigotry|antisemitism|islamophobia|homophobia|discrimination|fascism|nazis?)"
)
_CROWDED_PLACE = (
    r"(?:concerts?|schools?|classrooms?|campus|malls?|markets?|churches|mosques?|synagogues?|temples?|festivals?|"
    r"stadiums?|nightclubs?|clubs?|theat(?:er|re)s?|cinemas?|parades?|crowds?|offices?|restaurants?|supermarkets?|"
    r"stations?|playgrounds?|hospitals?|weddings?|rall(?:y|ies)|protests?|buses|trains?)"
)
_VEHICLE_ATTACK = (
    r"(?:cars?|trucks?|vans?|drivers?|lorr(?:y|ies)|tanks?) (?:\w+ ){0,3}(?:(?:runs?|ran|running|mow\w*|plow\w*|"
    r"plough\w*) (?:over|down|through|into)|(?:drives?|drove|driving|slams?|slamm\w*) into) "
    r"(?:\w+ ){0,2}(?:pedestrians|crowds?|protesters|shoppers|people)"
)
PLAIN_ACT_RULES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("sexual",
     (r"pornograph\w*", r"pornos?", r"sexual acts?", r"oral sex", r"anal sex", r"sex tapes?", r"making love",
      r"(?:going at it|getting it on) (?:\w+ ){0,4}(?:beds?|back ?seats?|cars?|sofas?|couch(?:es)?|showers?|"
      r"bathrooms?|hotels?|kitchens?)"),
     r"educat\w*|health|wellness|therap\w*|explain\w*|diagram|textbook|legal|laws?|awareness|preven\w*|impacts?|"
     r"effects?|contrast\w*|compar\w*|addiction|recover\w*|" + _FACT_QUESTION),
    ("violence",
     (r"slit(?:s|ting)? (?:\w+ ){0,3}throats?", r"cut(?:s|ting)? (?:\w+ ){0,3}throats?", r"strangled to death",
      r"throats? (?:being |was |is |getting )?(?:slit|slashed|cut open)", r"skulls? (?:\w+ ){0,2}(?:crushed|smashed|"
      r"caved in|split open)", r"brain matter", r"(?:bodies|body|limbs|corpses?) (?:\w+ ){0,2}(?:torn|ripped|blown) "
      r"(?:apart|to pieces|open)", r"cannibal\w* (?:eat\w*|feast\w*|devour\w*)", r"human flesh",
      r"shoot(?:s|ing)? (?:my|his|her|their|our) (?:boss|wife|husband|neighbou?rs?|teachers?|classmates?|coworkers?|"
      r"co-workers?|parents?|mom|dad|mother|father|brother|sister|girlfriend|boyfriend|ex)(?!'s|s'| a look)",
      r"(?:celebrat\w*|glorif\w*|prais\w*|tribute to|idoli[sz]\w*) (?:\w+ ){0,2}(?:(?:mass|school|church|mosque|"
      r"synagogue) shooters?|suicide bombers?|terrorists|serial killers?|mass murderers?)",
      r"smash\w* (?:\w+ ){0,3}(?:face|head|skull)s? (?:into|against|on)", r"skulls? crack\w*",
      r"beat\w* (?:an? |the |two |some )?(?:\w+ )?" + _VICTIMS + r"(?: \S+){0,3} (?:until|till|unconscious|"
      r"senseless|bloody|to a pulp)", r"bayonet\w* (?:an? |the )?(?:\w+ )?" + _VICTIMS, r"suicide (?:vests?|bomb\w*)",
      r"car bomb\w*", _VEHICLE_ATTACK,
      r"detonat\w* (?:\w+ ){0,3}(?:bombs?|explosives?|vests?) (?:\w+ ){0,3}(?:in|into|among) (?:a |the )?"
      r"(?:\w+ )?(?:crowds?|markets?|streets?|buses|trains?|schools?|churches|mosques?|synagogues?)",
      r"execut(?:e|es|ed|ing|ion of) (?:\w+ ){0,2}(?:prisoners|hostages?|civilians|captives)",
      r"(?:open(?:s|ed|ing) fire|spray(?:s|ed|ing)? bullets) (?:on|into|at|in) (?:an? |the )?(?:\w+ )?"
      + _CROWDED_PLACE,
      r"waterboard\w*", r"goug(?:e|es|ed|ing) out (?:\w+ ){0,2}eyes?", r"eyes? (?:\w+ )?gouged",
      r"(?:ripp|tear|yank|pull)\w* out (?:\w+ ){0,2}(?:finger|toe) ?nails",
      r"(?:finger|toe) ?nails (?:\w+ ){0,2}(?:ripped|torn|yanked|pulled) out",
      r"(?:public|mass) (?:hangings?|executions?|beheadings?|floggings?|stonings?)",
      r"(?:stabb|hack|club|kick|stomp|bludgeon|ston|whipp|batter|tortur|bash|hammer)\w* (?:\w+ ){0,3}"
      r"to death(?! metal)",
      r"(?:hack|chop|saw|cut|blow|blew|blown)\w* (?:an? |the |his |her |their )?(?:\w+ )?" + _VICTIMS
      + r" (?:apart|to pieces|into pieces|to bits|limb from limb)",
      r"hang(?:s|ed|ing)? (?:an? |the )?(?:\w+ )?" + _VICTIMS + r" from (?:an? |the )?(?:\w+ )?(?:trees?|gallows|"
      r"beams?|lampposts?|bridges?)"),
     _FICTION_CONTEXT + "|" + _METAPHOR_CONTEXT + "|" + _PLAY_CONTEXT + r"|demoli\w*|controlled|bomb squad|"
     r"accident\w*|crash test|vigils?|memorial\w*|mourn\w*|survivors?|drills?|" + _FACT_QUESTION),
    # Shootings named as events (before session 27 two words of the always-on list, which blocked "a vigil for the
    # victims of a school shooting"): remembrance, drills and news frame them; fiction does not.
    ("violence",
     (r"(?:mass|school|church|mall|concert|nightclub|campus) shootings?", r"(?:shooting|killing|stabbing) spree"),
     r"vigils?|memorial\w*|mourn\w*|survivors?|victims'? families|drills?|prevent\w*|awareness|news|documentar\w*|"
     r"histor\w*|" + _FACT_QUESTION),
    ("self_harm",
     (r"pro[- ]?(?:ana|mia)", r"thinspo\w*", r"anorexi\w*", r"bulimi\w*",
      r"starv\w* (?:my|him|her|them)sel(?:f|ves)",
      r"(?:make|makes|making|made|forc\w*) (?:my|him|her|them)sel(?:f|ves) (?:vomit|throw up|puke|bleed)",
      r"(?:vomit\w*|throw\w* up|purg\w*) after (?:every |each |a )?meals?",
      r"(?:burn\w*|cut(?:s|ting)?|hit(?:s|ting)?|punch\w*|bit(?:e|es|ing|ten)|scratch\w*|hurt\w*|harm(?:s|ed|ing)?|"
      r"injur\w*|bang\w*|slap\w*|whip\w*|carv\w*) (?:\w+ ){0,3}"
      r"(?:my|him|her|them)sel(?:f|ves)(?: \S+){0,8} (?:on purpose|deliberately|intentionally|to feel|as punishment|"
      r"until (?:\w+ ){0,3}bleed\w*)",
      r"(?:burn\w*|cut(?:s|ting)?|hit(?:s|ting)?|punch\w*|scratch\w*|bang\w*|carv\w*) (?:\w+ ){0,2}"
      r"(?:my|his|her|their) (?:own )?(?:arms?|wrists?|skin|"
      r"legs?|thighs?|head|face|body|forearms?)(?: \S+){0,6} (?:on purpose|deliberately|intentionally|to feel|"
      r"as punishment|until (?:\w+ ){0,3}bleed\w*)",
      r"carv\w* (?:\w+ ){0,3}into (?:my|his|her|their) (?:own )?(?:arms?|forearms?|wrists?|skin|legs?|thighs?)",
      r"(?:gun|pistol|revolver|barrel) (?:to|at|against) (?:my|his|her|their) (?:own )?(?:head|temple|chin|mouth)",
      r"rope around (?:my|his|her|their) (?:own )?neck",
      r"(?:drink\w*|swallow\w*|drank) (?:\w+ ){0,2}(?:bleach|antifreeze|rat poison)",
      r"(?:fresh |new )?cuts on (?:my|his|her|their) (?:own )?(?:forearms?|thighs?|wrists?)",
      r"(?:carbon monoxide|exhaust fumes)(?: \S+){0,6} (?:to die|to end)",
      r"(?:closed|sealed) garage(?: \S+){0,4} engine running|engine running(?: \S+){0,4} (?:closed|sealed) garage",
      # stepping in front of traffic, on purpose; throwing oneself under or off something
      r"(?:step|jump|leap|throw|walk|lie|lay|lying|lies|stand)\w* (?:\w+ ){0,3}in front of (?:\w+ ){0,3}(?:trains?|"
      r"trucks?|lorr(?:y|ies)|bus|buses|cars?|traffic|subway)(?: \S+){0,4} (?:on purpose|deliberately|"
      r"intentionally|to die|to end)",
      r"throw\w* (?:my|him|her|them)sel(?:f|ves) (?:in front of|under) (?:an? |the )?(?:\w+ )?(?:trains?|trucks?|"
      r"lorr(?:y|ies)|bus|buses|cars?|traffic|subway)",
      r"throw\w* (?:my|him|her|them)sel(?:f|ves) off (?:an? |the )?(?:\w+ )?(?:bridge|building|roof\w*|cliff|"
      r"balcony|ledge|tower)",
      r"exercis\w* until (?:\w+ ){0,2}(?:collaps\w*|faint\w*|pass\w* out|throw\w* up|vomit\w*)",
      r"(?:press\w*|stub\w*|put\w*|hold\w*) (?:a |the )?(?:lit |burning )?(?:cigarettes?|lighters?|lit match\w*|"
      r"hot (?:iron|knife|metal)) (?:\w+ ){0,2}(?:into|onto|on|against|to) (?:my|his|her|their) (?:own )?(?:arms?|"
      r"wrists?|skin|legs?|thighs?|hands?|forearms?)",
      r"(?:choking|blackout|pass[- ]?out|fainting) challenges?",
      r"(?:extreme )?(?:fasting|starvation|water[- ]fasting|no[- ]food|no[- ]eating) challenges?",
      r"eat\w* nothing for (?:\w+ ){0,2}(?:days|weeks)",
      r"(?:ribs showing|thigh gaps?|skin and bones|visible (?:ribs|hip ?bones|collarbones))(?: \S+){0,6} "
      r"(?:goals?|aesthetic|inspiration|motivation)"),
     _HELP_CONTEXT + "|" + _FICTION_WORDS + "|" + _FACT_QUESTION + r"|accident\w*|by mistake|mistaken\w*"),
    ("illegal",
     (r"(?:sell\w*|sold|deal\w*|smuggl\w*|traffick\w*|snort\w*|inject\w*|push\w*|buy\w*|bought|weigh\w*|"
      r"packag\w*|hid\w*|smok\w*|cook\w*|lac\w*|us(?:e|es|ing)|tak(?:e|es|ing)|press(?:es|ed|ing)) (?:\w+ ){0,4}"
      + _HARD_DRUGS,
      r"smok\w* (?:\w+ ){0,2}crack(?! of)", r"crack (?:pipes?|houses?|dens?|heads?|addicts?)",
      r"shoot\w* up (?:\w+ ){0,2}(?:heroin|drugs|dope|smack|meth)",
      r"(?:junkies?|addicts?) (?:\w+ ){0,3}(?:shoot\w* up|inject\w*|snort\w*)",
      r"(?:sell\w*|sold|deal\w*|smuggl\w*|traffick\w*|push\w*) (?:\w+ ){0,3}(?:drugs|narcotics|opioids|weed|"
      r"marijuana|ecstasy|hard drugs)",
      _HARD_DRUGS + r" (?:dealers?|dealing|smuggl\w*|traffick\w*|mules?|cartels?|labs?|dens?)",
      r"(?:drug|weed|crack|pill) ?(?:dealers?|dealing|lords?|cartels?|mules?|smuggl\w*|traffick\w*|runners?)",
      r"street (?:dealers?|dealing)",
      r"dealers? (?:selling|sells|handing|passing|pushing)", r"lines of (?:cocaine|coke|powder)",
      r"(?:rob|robs|robbing|robbed) (?:a |an |the )?(?:\w+ )?(?:banks?|stores?|shops?|"
      r"gas stations?|liquor stores?|jewel\w*|armou?red trucks?|convenience stores?|pharmac\w*|casinos?|tellers?|"
      r"cashiers?)", r"at gunpoint", r"armed robber\w*", r"robbers?", r"muggers?",
      r"(?:steal(?:s|ing)?|stole|stolen|snatch\w*|pickpocket\w*) (?:\w+ ){0,3}" + _STOLEN_GOODS,
      r"pickpockets?", r"car thie\w*", r"hot[- ]?wir\w*", r"carjack\w*",
      r"(?:break|breaks|breaking|broke) into (?:a |an |the |someone's |his |her |their |my |our |your |\w+'s )?"
      r"(?:\w+ )?(?:houses?|homes?|"
      r"cars?|apartments?|stores?|shops?|offices?|banks?|vaults?|networks?|systems?|servers?|databases?|accounts?)",
      r"burglar(?:s|y|ies)?(?! alarms?)",
      r"hack(?:s|ed|ing)? (?:into )?(?:a |an |the |someone's |his |her |their )?(?:\w+ )?(?:banks?|accounts?|networks?|"
      r"servers?|databases?|systems?|"
      r"computers?|hospitals?|emails?|phones?|government)", r"for (?:a )?ransom", r"ransomware",
      r"(?:print\w*|mak\w*|produc\w*|pass\w*|forg\w*) (?:\w+ ){0,3}counterfeit", r"counterfeit\w* (?:\w+ ){0,2}"
      r"(?:money|bills|cash|currency|notes|dollars|coins|banknotes)",
      r"forg(?:e|es|ed|ing) (?:\w+ ){0,2}(?:passports?|documents?|signatures?|ids?|id cards?|checks?|cheques?|papers|"
      r"visas?)",
      r"(?:human|sex|child|people|organ) traffick\w*", r"traffickers?",
      r"(?:illegal|stolen|unregistered|untraceable|smuggled|black[- ]market) (?:guns|firearms|weapons|rifles|pistols|"
      r"handguns|ammunition|explosives|grenades)", r"(?:gun|arms|weapons?) (?:smuggl\w*|traffick\w*|runn\w*)",
      r"arms dealers?", r"arsonists?",
      r"smuggl(?:e|es|ed|ing) (?:\w+ ){0,3}(?:guns|firearms|weapons|rifles|ammunition|explosives|people|migrants|"
      r"ivory|contraband)", r"smuggl(?:e|es|ed|ing) (?:\w+ ){0,4}(?:across|over) (?:the )?borders?",
      r"(?:people|human|migrant) smugglers?",
      r"smugglers? (?:sneak|mov|bring|brought|ferr|transport|carr|load|pack|hid)\w*",
      r"vandalism|vandali[sz](?:e|es|ed|ing)", r"vandals? (?:spray|smash|break|wreck|destroy|trash|deface|kick|tag)\w*",
      r"shoplift\w*", r"key(?:ed|ing) (?:\w+ ){0,2}cars?",
      r"slash(?:es|ed|ing)? (?:the |his |her |their |someone's |\w+'s )?(?:car |car's )?(?:tires|tyres)",
      r"(?:card|atm|credit card|debit card) skimm(?:er|ers|ing)",
      r"skimm(?:er|ers|ing) (?:\w+ ){0,2}(?:on|onto|to|in|into) (?:an? |the )?(?:atms?|cash machines?|card readers?|"
      r"gas pumps?|pumps?|payment terminals?)",
      r"poach(?:er|ers|ing) (?:\w+ ){0,3}(?:elephants?|rhinos?|tigers?|gorillas?|ivory|tusks?|horns?|pangolins?|"
      r"lions?|leopards?)", r"(?:ivory|rhino horn) (?:trade|traffick\w*|smuggl\w*|black market)",
      r"phishing (?:emails?|scams?|pages?|sites?|links?|kits?)",
      r"(?:buy\w*|bought|sell\w*|sold|order\w*) (?:\w+ ){0,3}(?:guns|weapons|firearms|drugs|stolen \w+|credit card "
      r"\w+) (?:on|from|off|via|through) (?:the )?dark ?web", r"dark ?web (?:markets?|marketplaces?|vendors?|dealers?)",
      r"drunk[- ]driv\w*", r"driving (?:while )?drunk", r"drink[- ]driv\w*",
      r"swatting (?:a |the )?(?:\w+ )?(?:streamers?|gamers?|youtubers?|neighbou?rs?|house|home|family)",
      r"(?:fake|false|hoax) (?:hostage|bomb threat|911|emergency) calls?", r"call\w* in (?:a )?(?:fake|false|hoax) "
      r"(?:hostage|bomb|shooting|emergency)",
      r"scamm(?:er|ers|ing) (?:\w+ ){0,3}(?:elderly|seniors|grandparents?|old people|pensioners)",
      r"set\w* fire to (?:a |an |the |someone's |his |her |their )?(?:\w+ )?(?:house|home|car|building|store|shop)s?"),
     _LAW_AND_LEARNING + "|" + _FICTION_CONTEXT + "|" + _METAPHOR_CONTEXT + "|" + _FACT_QUESTION
     + r"|rangers?|anti-?poaching|conservation\w*"),
    # Bribing an official: the officials themselves cannot defuse it, unlike the acts above.
    ("illegal",
     (r"brib(?:e|es|ed|ing|ery) (?:\w+ ){0,2}(?:officials?|officers?|polic\w*|cops?|judges?|politicians?|guards?|"
      r"inspectors?|customs|ministers?|senators?|referees?)", r"(?:pay\w*|paid|hand\w*|offer\w*) (?:\w+ ){0,2}bribes?"),
     _SCREEN_FICTION + r"|histor\w*|documentar\w*|awareness|preven\w*|educat\w*|anti-?corruption|" + _FACT_QUESTION),
    ("hate",
     (r"neo-?nazi\w*", r"skinheads?", r"white (?:supremac|nationalis)\w*", r"klans(?:man|men)", r"kkk",
      r"ku klux klan", r"nazi (?:slogans?|salutes?|propaganda|rall(?:y|ies)|chants?|flags?)", r"hitler salutes?",
      r"sieg heil", r"swastika (?:flags?|banners?|graffiti)",
      r"(?:burn\w*|vandali[sz]\w*|desecrat\w*|attack\w*) (?:a |the )?(?:\w+ )?(?:synagogues?|mosques?|gurdwaras?)",
      r"(?:synagogues?|mosques?|gurdwaras?) (?:\w+ ){0,2}(?:in flames|on fire|ablaze|burn(?:ed|t) down)",
      r"(?:burn\w*|set\w* fire to|desecrat\w*|urinat\w* on|spit\w* on|tear\w* up|rip\w* up) (?:an? |the )?(?:\w+ )?"
      r"(?:qurans?|korans?|torahs?|bibles?)",
      r"nazi (?:banners?|symbols?|insignia)", r"blackface", r"yellowface", r"minstrel shows?",
      r"monkey (?:noises|chants?|sounds|gestures) (?:at|toward|towards) (?:an? |the )?(?:\w+ )?(?:black|african|"
      r"players?|footballers?|athletes?)",
      r"throw\w* bananas at (?:an? |the )?(?:\w+ )?(?:black|african|players?|footballers?|athletes?)",
      r"(?:glorif\w*|celebrat\w*|prais\w*) (?:the |an? )?(?:\w+ )?(?:hitler|nazis?|nazism|"
      r"(?:holocaust|genocide)(?! survivors?| memorial| museum| remembrance| victims?)|ethnic cleansing|extermination|"
      r"lynch\w*|slavery|the kkk|white supremacy)", r"lynch\w* (?:\w+ ){0,4}(?:celebrat\w*|cheer\w*|glorif\w*)",
      r"(?:exterminat\w*|genocide|ethnic cleansing|wip(?:e|es|ed|ing) out|gass\w*) (?:of )?(?:all )?(?:the )?"
      + _PROTECTED_GROUP,
      r"(?:ripp(?:ed|ing)|rips?|tearing|tore|torn|yank\w*|snatch\w*) (?:off )?(?:\S+ ){0,3}(?:hijabs?|headscarf|"
      r"headscarves|turbans?|niqabs?|burqas?|kippahs?|yarmulkes?)",
      r"(?:pull\w*|grab\w*) off (?:an? |the |her |his |their )?(?:\w+ )?(?:hijabs?|headscarf|headscarves|turbans?|"
      r"niqabs?|burqas?|kippahs?|yarmulkes?)",
      _PROTECTED_GROUP + r"(?: \S+){0,6} (?:into|to|in) (?:concentration|internment|labou?r|death|re-?education) camps",
      r"burning cross(?:es)?", r"cross[- ]burning", r"burn\w* (?:a |the )?cross(?:es)?",
      _PROTECTED_GROUP + r" (?:(?:is |are |were |being )?(?:portrayed |depicted |shown |drawn |caricatured |"
      r"presented |painted )?as|are|were|is) (?:\S+ ){0,2}"
      r"(?:monkeys?|apes?|gorillas?|rats?|vermin|cockroach(?:es)?|roach(?:es)?|pigs?|dogs?|animals?|parasites?|"
      r"insects?|bats?|snakes?|locusts?|savages?|diseased|a disease|criminals?|rapists?|terrorists?|predators?|"
      r"subhumans?|inferior|filth|thie(?:f|ves|ving)|invaders?)"
      # the likeness ends there ("as a dog walker", "as a snake charmer" are jobs, not insults)
      r"(?=\s*(?:[,.;:!?)]|$)|\s(?:and|or|with|who|that|in|on|at|from|for|to|into|over|eating|crawling|lurking|"
      r"invading|spreading|infesting|swarming|living|running|attacking|stealing|being|while)(?![a-z0-9]))",
      r"(?:attack(?:s|ed|ing)?|beat(?:s|ing|en)?|assault\w*|harass\w*|spit\w* on|insult\w*|mock(?:s|ed|ing)?|taunt\w*|"
      r"bull(?:y|ies|ying|ied)|lynch\w*|mak(?:e|es|ing) fun of|made fun of|ridicul(?:e|es|ed|ing)|humiliat\w*|"
      r"jeer\w* at) "
      r"(?:an? |the |two |some |young |old |elderly |local )*" + _PROTECTED_GROUP,
      r"(?:racial|racist|homophobic|ethnic|antisemitic|anti-semitic) slurs?", r"shout\w* slurs",
      r"go back to (?:your|their) (?:own )?countr(?:y|ies)", r"go back (?:to )?where (?:they|you) came from",
      r"holocaust (?:denial|deni\w*|hoax|never happened|myth|was a lie)", r"den(?:y|ies|ying|ied) (?:\w+ )?(?:the )?"
      r"holocaust", r"gas chambers were (?:a )?(?:hoax|fake|lie|myth)", r"1488", r"totenkopf",
      r"ss (?:uniforms?|bolts|runes|insignia)", r"hook-?nosed (?:\w+ )?jew\w*",
      r"(?:jews?|jewish \w+) (?:secretly )?(?:control\w*|run(?:s|ning)?|own\w*) (?:the )?(?:world|media|banks|"
      r"governments?|money)(?!'s| \w+'s)",
      r"women (?:are|were|is) (?:\S+ ){0,2}(?:inferior|too stupid|stupid|property|objects)",
      r"(?:hijabs?|headscarf|headscarves|turbans?|niqabs?|burqas?|kippahs?|yarmulkes?)(?: \S+){0,4} "
      r"(?:ripp(?:ed|ing)|rips?|tearing|tore|torn|yank\w*|snatch\w*|pull\w*) (?:it|them) off",
      _PROTECTED_GROUP + r" (?:being |is |are |was |were |gets? |getting )?(?:harassed|attacked|beaten|assaulted|"
      r"mocked|bullied|spat on|insulted|taunted|ridiculed|humiliated|chased|jeered at) (?:\w+ ){0,2}(?:by|while|as)"),
     _HATE_FRAMING + "|" + _FACT_QUESTION),
)


# Words that sexualise a person: together with a minor they are blocked under every policy, with no
# classifier needed. Discussion words ("sexual", "sex education") are left to the classifier instead.
SEXUALISING_TERMS = (
    r"sexy", r"seductive\w*", r"lingerie", r"provocative\w*", r"sensual\w*", r"busty", r"cleavage", r"thong",
    r"lewd", r"stripper", r"strip ?tease", r"ahegao", r"erotic\w*", r"sexuali[sz]ed", r"in (?:her|his) underwear",
)


def _compile(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(patterns) + r")(?![a-z0-9])")


_BENIGN_RE = _compile(BENIGN_PHRASES)
_MINOR_RE = _compile(MINOR_TERMS)
_SEXUALISING_RE = _compile(SEXUALISING_TERMS)
_TERM_RES = {cat: (_compile(explicit), _compile(suggestive)) for cat, (explicit, suggestive) in TERMS.items()}
_CONTEXT_RES = {cat: (_compile(terms), _compile((context,))) for cat, (terms, context) in CONTEXT_RULES.items()}
_PLAIN_ACT_RES = tuple((cat, _compile(terms), _compile((context,))) for cat, terms, context in PLAIN_ACT_RULES)


@dataclass(frozen=True)
class RuleHits:
    """Matched words per category and tier, after benign phrases were masked."""

    explicit: dict[str, tuple[str, ...]]
    suggestive: dict[str, tuple[str, ...]]
    minors: tuple[str, ...]
    sexualising: tuple[str, ...]
    defused: tuple[str, ...]  # benign phrases that were masked ("bloody mary")

    def sexual_terms(self) -> tuple[str, ...]:
        return self.explicit.get("sexual", ()) + self.suggestive.get("sexual", ())


def _find(pattern: re.Pattern[str] | None, *texts: str) -> tuple[str, ...]:
    if pattern is None:
        return ()
    found: dict[str, str] = {}  # key without punctuation, so "self-harm" and "selfharm" count once
    for text in texts:
        for match in pattern.finditer(text):
            found.setdefault(re.sub(r"[^a-z0-9]", "", match.group(0)), match.group(0))
    return tuple(found.values())


def match_rules(norm: NormalizedText) -> RuleHits:
    defused = _find(_BENIGN_RE, norm.text, norm.compact)
    views = [_BENIGN_RE.sub(" ", norm.text), _BENIGN_RE.sub(" ", norm.compact)]
    explicit: dict[str, tuple[str, ...]] = {}
    suggestive: dict[str, tuple[str, ...]] = {}
    for category, (explicit_re, suggestive_re) in _TERM_RES.items():
        if hits := _find(explicit_re, *views):
            explicit[category] = hits
        if hits := _find(suggestive_re, *views):
            suggestive[category] = hits
    for category, (terms_re, context_re) in _CONTEXT_RES.items():
        if (hits := _find(terms_re, *views)) and not _find(context_re, *views):
            explicit[category] = explicit.get(category, ()) + hits
    # Framing is read on the whole text here, benign phrases included: a "sex education" pamphlet frames the rest.
    framing_views: list[str] = []
    for category, terms_re, context_re in _PLAIN_ACT_RES:
        if not (hits := _find(terms_re, *views)):
            continue
        framing_views = framing_views or [_EVADING_THE_LAW.sub(" ", norm.text), _EVADING_THE_LAW.sub(" ", norm.compact)]
        if not _find(context_re, *framing_views):
            explicit[category] = explicit.get(category, ()) + hits
    return RuleHits(explicit=explicit, suggestive=suggestive, minors=_find(_MINOR_RE, *views),
                    sexualising=_find(_SEXUALISING_RE, *views), defused=defused)


# A negative prompt names what the model is steered away from, so it reads the other way round. Naming unsafe
# content there ("nsfw, nude", "(gore:1.3)", "explicit porn") asks for safety: a comma-separated segment made only
# of such words is dropped before the negative prompt is checked. Steering away from clothing asks for nudity, and
# steering away from adulthood while the prompt has sexual terms asks for a sexualised minor: both are blocked.
AVOIDANCE_WORDS = frozenset("""
    nsfw nsfl nude nudes nudity naked nipples genitals genitalia porn porno pornography pornographic explicit
    sexual sex sexy erotic lewd suggestive cleavage hentai content gore gory blood bloody violence violent graphic
    weapons weapon guns gun injury injuries wounds corpse corpses death disturbing scary horror creepy drugs self
    harm hate symbols offensive and
""".split())
_SEGMENTS = re.compile(r"[,;\n|]")


def without_avoidance_tags(negative: str) -> str:
    """A normalised negative prompt minus its segments made only of AVOIDANCE_WORDS (weights such as ":1.3" and
    brackets ignored)."""
    def avoidance_only(segment: str) -> bool:
        words = re.findall(r"[a-z]+", segment)
        return bool(words) and all(word in AVOIDANCE_WORDS for word in words)

    return ", ".join(s.strip() for s in _SEGMENTS.split(negative) if s.strip() and not avoidance_only(s))


_TOWARD_NUDITY = _compile((
    r"(?:fully )?cloth(?:es|ing|ed)", r"dressed", r"garments?", r"outfits?", r"shirts?", r"t-shirts?", r"bras?",
    r"underwear", r"panties", r"swimsuits?", r"swimwear", r"pants", r"trousers", r"skirts?", r"censor\w*",
    r"mosaic", r"modest\w*", r"covered (?:up|body|chest|breasts?)",
))
_TOWARD_MINORS = _compile((
    r"adults?", r"mature", r"grown[- ]?ups?", r"of (?:legal )?age",
    r"(?:1[89]|[2-9][0-9])[ -]?(?:years?|yrs?)[ -]?old",
))


def steering_words(negative: NormalizedText, prompt: str) -> tuple[str, tuple[str, ...]] | None:
    """(category, words) when a negative prompt steers toward nudity or, with sexual terms in `prompt`, toward a
    minor; None otherwise. The prompt is only read when the negative prompt names adulthood."""
    views = (negative.text, negative.compact)
    if words := _find(_TOWARD_MINORS, *views):
        prompt_hits = match_rules(normalize(prompt))
        if prompt_hits.sexual_terms() + prompt_hits.sexualising:
            return SEXUAL_MINORS, words
    if words := _find(_TOWARD_NUDITY, *views):
        return "sexual", words
    return None
