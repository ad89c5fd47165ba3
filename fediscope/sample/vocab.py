"""Words the sample corpus is written with: languages, phrases, hashtags, names, emojis and links.

Everything here is invented for the generator (no real post or person). Hashtags are listed by popularity
rank: the generator draws them with Zipf-like weights (rank ``r`` has weight ``1 / r**s``), the shape real
hashtag use has on the fediverse. Link targets use reserved example domains (RFC 2606).
"""

from __future__ import annotations

#: language → (weight across the corpus, phrases). ``None`` stands for statuses without a detected language.
LANGUAGES: dict[str | None, tuple[float, tuple[str, ...]]] = {
    "en": (0.44, (
        "Just finished reading a great book about the history of the internet.",
        "Anyone else think this week went by way too fast?",
        "New release is out, thanks to everyone who contributed!",
        "The coffee machine at the office is broken again.",
        "Went for a long walk by the river this morning, lovely light.",
        "Hot take: tabs are fine, actually.",
        "Working on a small side project this weekend.",
        "Our community meetup is next Thursday, everyone welcome.",
        "I wrote a short post about moving my photos off the big platforms.",
        "Rain all day, perfect excuse to stay in and bake bread.",
        "Today I learned something surprising about compilers.",
        "Looking for recommendations for a good podcast on science.",
    )),
    "de": (0.12, (
        "Heute endlich mal wieder Zeit zum Lesen gefunden.",
        "Der Zug hat natürlich wieder Verspätung.",
        "Kleines Update zu meinem Gartenprojekt: die Tomaten wachsen!",
        "Wer kommt am Samstag zum Treffen im Café?",
        "Neue Version ist draußen, vielen Dank an alle Beteiligten.",
        "Regenwetter, also gibt es heute Suppe und ein gutes Buch.",
        "Ich habe einen kurzen Artikel über freie Software geschrieben.",
    )),
    "ja": (0.09, (
        "今日はとても良い天気でした。",
        "新しいカメラで写真を撮りに行きました。",
        "週末はずっと本を読んでいました。",
        "コーヒーを飲みながら仕事をしています。",
        "みなさん、おはようございます！",
        "夜ご飯はカレーにしました。",
    )),
    "fr": (0.08, (
        "Petite balade au bord de la mer ce matin.",
        "Qui vient à la rencontre de jeudi soir ?",
        "Nouvelle version disponible, merci à toutes et à tous.",
        "Je cherche un bon livre pour les vacances, des idées ?",
        "Le marché du dimanche, toujours un plaisir.",
        "J'ai écrit un billet sur l'auto-hébergement.",
    )),
    "es": (0.07, (
        "Hoy hace un día precioso para pasear.",
        "¿Alguien tiene recomendaciones de series?",
        "Nueva versión publicada, ¡gracias a todas las personas que ayudaron!",
        "Preparando la charla para el viernes.",
        "Acabo de terminar un libro increíble.",
    )),
    "pt": (0.05, (
        "Bom dia a todos! Café e código.",
        "Alguém conhece um bom tutorial sobre isso?",
        "Fim de semana na praia, finalmente.",
        "Publiquei um texto novo no blog.",
    )),
    "nl": (0.04, (
        "Vandaag lekker gefietst langs de dijk.",
        "Wie heeft er tips voor een goede podcast?",
        "Nieuwe versie staat online, dank aan iedereen.",
        "Het regent alweer, tijd voor soep.",
    )),
    "it": (0.03, (
        "Oggi pizza fatta in casa, finalmente.",
        "Qualcuno ha consigli su un buon libro?",
        "Nuova versione disponibile, grazie a tutti.",
    )),
    "pl": (0.02, (
        "Dzisiaj piękna pogoda na spacer.",
        "Ktoś poleci dobrą książkę?",
    )),
    "ko": (0.02, (
        "오늘 날씨가 정말 좋네요.",
        "주말에 사진을 찍으러 갔어요.",
    )),
    None: (0.04, (
        "🎉🎉🎉",
        "👀",
        "ok",
        "+1",
    )),
}

#: Hashtags by popularity rank (rank 1 first).
HASHTAGS: tuple[str, ...] = (
    "mastodon", "fediverse", "caturday", "photography", "art", "news", "python", "linux", "music", "opensource",
    "foss", "introduction", "books", "climate", "science", "gaming", "rust", "dogsofmastodon", "nature",
    "politics", "programming", "mosstodon", "bookstodon", "silentsunday", "history", "space", "gardening",
    "cooking", "coffee", "birds", "javascript", "selfhosting", "privacy", "security", "ai", "datascience",
    "streetphotography", "film", "podcast", "writing", "poetry", "travel", "cycling", "running", "hiking",
    "astronomy", "physics", "biology", "chemistry", "maths", "education", "academia", "accessibility", "design",
    "webdev", "css", "golang", "kotlin", "haskell", "emacs", "vim", "homeassistant", "raspberrypi", "3dprinting",
    "electronics", "retrocomputing", "boardgames", "ttrpg", "knitting", "crochet", "sewing", "baking", "vegan",
    "tea", "wine", "beer", "football", "cricket", "tennis", "f1", "anime", "manga", "scifi", "fantasy", "comics",
    "jazz", "metal", "classicalmusic", "synth", "vinyl", "museum", "architecture", "urbanism", "trains",
    "transit", "bikes", "energy", "solar", "economics", "law", "journalism", "europe", "berlin", "paris", "tokyo",
    "amsterdam", "madrid", "lisbon", "rome", "warsaw", "seoul", "mentalhealth", "health", "parenting", "pets",
    "cats", "dogs", "wildlife", "ocean", "mountains", "snow", "sunset", "flowers", "trees", "fungi", "insects",
    "macro", "blackandwhite", "filmphotography", "illustration", "painting", "drawing", "sketch", "pixelart",
    "mastoart", "generativeart", "typography", "fonts", "linguistics", "languagelearning", "japanese",
    "deutsch", "français", "español", "português", "nederlands", "italiano", "polski", "한국어", "日本語",
)

#: Suffixes for the long tail of rare, made-up hashtags (``<word><suffix>``).
TAIL_SUFFIXES = ("club", "life", "daily", "talk", "news", "love", "fans", "week", "2026", "nerd")

FIRST_NAMES = ("Ada", "Ben", "Chloé", "Dmitri", "Eva", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kaito",
               "Lena", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tomás", "Uma", "Vera",
               "Wen", "Xavi", "Yuki", "Zofia", "Mina", "Joon", "Anouk", "Giulia")
USER_WORDS = ("river", "maple", "pixel", "fox", "owl", "comet", "ember", "moss", "tide", "cedar", "nova", "quartz",
              "willow", "atlas", "lumen", "orbit", "pebble", "sparrow", "thistle", "zephyr", "badger", "heron",
              "kestrel", "lynx", "marten", "otter", "puffin", "raven", "stoat", "wren")
BOT_NAMES = ("weather", "news", "quake", "rss", "feed", "alerts", "poll", "reminder", "status", "trains")
GROUP_NAMES = ("bookclub", "photowalk", "linuxusers", "gardeners", "birdwatch", "coders", "cyclists")

UNICODE_EMOJIS = ("🎉", "😀", "🐘", "☕", "🌱", "❤️", "🔥", "📷", "🎶", "🚀", "✨", "🙏", "😂", "🌧️", "🐈", "🦊")

#: Custom emoji shortcodes every sample instance serves (CustomEmoji entities are built from these).
CUSTOM_EMOJIS = ("blobcat", "blobfox", "mastodon", "verified", "partyparrot", "blobheart", "ablobcatrave")

LINK_TARGETS = ("https://example.org/articles/", "https://blog.example.net/posts/", "https://news.example.com/",
                "https://docs.example.org/guide/", "https://video.example.com/watch/")

BIOS = ("Photographer and tea drinker.", "Software developer. Opinions my own.", "Reading, walking, repeat.",
        "Birds, bikes and bread.", "Researcher in a field you have never heard of.", "I post about music.",
        "Librarian by day.", "Mostly cats.", "Learning Japanese slowly.", "Open source maintainer.")
BOT_BIO = "Automated account. Posts every hour."
OPT_OUT_BIOS = ("Please do not archive my posts. #nobot", "#NoSearch #noindex — no scraping, thank you.",
                "Human, not a data set. #nobot")

MEDIA_TYPES = (("image", 0.70), ("video", 0.12), ("gifv", 0.10), ("audio", 0.05), ("unknown", 0.03))

POLL_OPTIONS = (("Yes", "No"), ("Tabs", "Spaces"), ("Cats", "Dogs", "Both"), ("Morning", "Evening"),
                ("Tea", "Coffee", "Neither", "Both"))

APPLICATIONS = (({"name": "Web", "website": None}, 0.55), (None, 0.25),
                ({"name": "Tusky", "website": "https://tusky.app"}, 0.08),
                ({"name": "Ivory for iOS", "website": "https://tapbots.com/ivory/"}, 0.07),
                ({"name": "Mastodon for Android", "website": "https://app.joinmastodon.org/android"}, 0.05))
