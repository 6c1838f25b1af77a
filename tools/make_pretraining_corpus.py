"""Build the broad pretraining corpus of issue 19 from Debian packages (no audio in git).

    python tools/make_pretraining_corpus.py --out data/pretraining

Steps, each skipped when its output already exists (the recipe is resumable and
deterministic: sorted listings, fixed rules, no randomness):

1. fetch     ``apt-get download`` every package of SOURCES into ``<work>/debs``
2. extract   its audio files, sound archives (zip/pk3/wad) and copyright files into
             ``<work>/src/<package>`` (no installation; ``<work>`` defaults to
             ``<out>/work``)
3. licence   read ``usr/share/doc/<package>/copyright``; a package whose licences are not
             all free (LICENCE_FREE) is left out and said so
4. clips     decode each sound (soundfile), mix to mono, resample to 16 kHz, cut into
             clips of at most 10 s, drop near-silent ones, write 16-bit FLAC under
             ``<out>/clips/<package>/...`` with an ``index.csv`` per package
5. manifest  ``<out>/manifest.csv`` (path,labels,fold: deep_audio's manifest format,
             paths relative to ``<out>``), ``<out>/sources.csv`` (package, version,
             licence, clips, seconds) and ``<out>/classes.csv`` (class, clips, seconds)

Labels come from each package's folder and file names through TAXONOMY (keywords ->
hierarchical classes, several per clip where a name says several things; every class
also gives its ancestors: ``animal/bird`` adds ``animal``). Folds are by source package
(recording sessions: FluidR3 programs count as sessions of their own), never by clip.

HOLD_OUT lists what the transfer benchmark tests on; none of it enters the corpus in any
form. RESERVED lists the packages kept for independent evaluation (data.md).
See docs/pretraining_corpus.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import struct
import subprocess
import tarfile
import time
import zipfile
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

SAMPLE_RATE_HZ = 16000
MAX_CLIP_SECONDS = 10.0
MIN_CLIP_SECONDS = 0.2          # shorter sounds (and the tails of cut files) are dropped
SILENCE_RMS_DBFS = -50.0        # clips quieter than this (RMS, dB full scale) are dropped
MAX_CLIPS_PER_FILE = 12         # long files (music): at most this many clips, spread over it
MANIFEST_CLIPS_PER_FILE = 4     # ... of which the manifest lists at most this many (evenly
                                # spread), so long music tracks and ambience loops do not
                                # outweigh the short sound effects (--clips-per-file)
N_FOLDS = 10
VALIDATION_FOLD = 10         # whole packages never trained on: manifest_validation.csv
AUDIO_SUFFIXES = (".ogg", ".oga", ".wav", ".flac", ".mp3", ".opus", ".au", ".aif", ".aiff",
                  ".voc")
ARCHIVE_SUFFIXES = (".zip", ".pk3", ".wz", ".wad")

# --------------------------------------------------------------------------- hold-out
# What the transfer benchmark (benchmarks/benchmark_transfer.py, tools/make_benchmark_data.py)
# tests on. Nothing of it enters the corpus, in any form.
HOLD_OUT = {
    "tuxpaint-stamps-default": "speakers task (spoken stamp descriptions) and animal sounds",
    "tuxpaint-data": "same project and recordings family as tuxpaint-stamps-default",
    "asterisk-core-sounds-*": "languages task (telephone prompts, 5 languages)",
    "asterisk-moh-opsound-*": "same Asterisk sound distribution as the languages task",
    "sonic-pi-samples": "soundscape benchmark",
    "supersonic-scsynth-samples": "soundscape benchmark (npm copy of the Sonic Pi set)",
    "fluid-soundfont-gm bank 128": "drums task (FluidR3 drum kits)",
    "fluid-soundfont-gm programs 112-119": "GM percussive programs, may share kit samples",
    "fluid-soundfont-gs": "the same FluidR3 samples (drum kits included)",
    "fluidr3mono-gm-soundfont": "derived from FluidR3 (drum kits included)",
    "ufoai-sound": "sound-effects task (weapons, ambience, footsteps, soldier and civilian "
                   "voices, aliens; see ENVIRONMENT_TASK)",
    "ufoai-music": "same game as ufoai-sound",
}
# Kept for independent evaluation (/work/shared/notes/data.md): never used here.
RESERVED = ("hydrogen-drumkits", "hedgewars-data", "timgm6mb-soundfont",
            "musescore-general-soundfont", "pyAudioAnalysis test recordings")
# The fourth transfer-benchmark task ("environmental sounds / sound effects"): UFO: Alien
# Invasion's sound set, one pk3 archive (base/0snd.pk3) with folders naming clear classes:
# sound/weapons (78 files), sound/ambience (59), sound/footsteps (47), sound/soldiers and
# sound/civilians (44 voices), sound/aliens (about 30). Split such a task by original file
# (ambience loops are long).
ENVIRONMENT_TASK = "ufoai-sound"

# --------------------------------------------------------------------------- sources
# family: how the package's sounds are found and labelled (one function per family).
# always: labels every clip of the package gets; default: labels when no keyword matches.


@dataclass(frozen=True)
class Source:
    package: str
    family: str = "sound_files"
    always: tuple[str, ...] = ()
    default: tuple[str, ...] = ("sound_effect",)
    skip: str = ""              # regular expression on the path: files left out
    speech_language: str = ""   # spoken material: a folder named by a LANGUAGES code gives
                                # speech/<code>; other files get speech/<this code>
    voice: str = ""             # regular expression on the path whose groups name who
                                # speaks: voice/<project>_<groups> (--voices only; see
                                # VOICE_MIN_CLIPS)


MUSIC = ("music/score",)
# Fish Fillets NG dialogs: sound/<level>/<language>/<level>-<character>-<line>.ogg, each
# character of a language voiced by one actor ("m" the small fish, "v" the big one).
FILLETS_VOICE = r"/sound/[^/]+/([a-z]{2})/[a-z0-9]+-([a-z]+)-[^/]*$"
# A speaker label needs this many manifest clips: fewer cannot teach a voice.
VOICE_MIN_CLIPS = 20
SOURCES = [
    Source("supertuxkart-data"),
    Source("openarena-data"),
    Source("freedoom", family="doom_wad"),
    Source("warzone2100-data"),
    Source("xmoto-data"),
    Source("pingus-data"),
    Source("frozen-bubble-data"),
    Source("extremetuxracer-data"),
    Source("lincity-ng-data"),
    Source("sound-theme-freedesktop", always=("ui",)),
    Source("oxygen-sounds", always=("ui",)),
    Source("yaru-theme-sound", always=("ui",)),
    Source("deepin-sound-theme", always=("ui",)),
    Source("lomiri-sounds", default=("ui/notification",)),
    Source("sound-icons", always=("ui",)),
    Source("wesnoth-1.16-data"),
    Source("wesnoth-1.16-music", always=MUSIC),
    Source("warzone2100-music", always=MUSIC),
    Source("hyperrogue-music", always=MUSIC),
    Source("flightgear-data-base"),
    Source("torcs-data", default=("vehicle/car",)),
    Source("supertux-data"),
    Source("widelands-data"),
    Source("openclonk-data"),
    Source("redeclipse-data"),
    Source("nexuiz-data"),
    Source("megaglest-data"),
    Source("openttd-opensfx"),
    Source("colobot-common-sounds"),
    Source("wordwarvi-sound"),
    Source("xblast-tnt-sounds"),
    Source("tuxtype-data"),
    Source("tuxmath-data"),
    Source("kanagram"),
    Source("khangman"),
    Source("lmms-common"),
    Source("freeciv-data"),
    Source("alienblaster-data"),
    Source("trigger-rally-data", default=("vehicle/car",)),
    Source("scorched3d-data"),
    Source("foobillardplus-data", default=("impact/ball",)),
    Source("neverball-data"),
    Source("bzflag-data"),
    Source("freecol"),
    Source("freeorion-data"),
    Source("7kaa-data"),
    Source("lordsawar-data"),
    Source("berusky2-data"),
    Source("zaz-data"),
    Source("ri-li-data"),
    Source("tuxfootball"),
    Source("powermanga-data"),
    Source("cube2-data"),
    Source("warmux-data"),
    Source("heroes-sound-effects"),
    Source("chromium-bsu-data"),
    Source("pioneers-data"),
    Source("etw-data"),
    Source("fillets-ng-data", speech_language="en", skip=r"/music/", voice=FILLETS_VOICE),
    Source("fillets-ng-data-cs", speech_language="cs", voice=FILLETS_VOICE),
    Source("fillets-ng-data-nl", speech_language="nl", voice=FILLETS_VOICE),
    Source("kajongg", always=("speech",), speech_language="en",
           voice=r"/voices/([a-z]{2})/([^/]+)/"),
    Source("freedroidrpg-data"),
    Source("teeworlds-data"),
    Source("ksirk"),
    Source("drascula-music", always=MUSIC),
    Source("enigma-data"),
    Source("trackballs-data"),
    Source("btanks-data"),
    Source("caveexpress-data"),
    Source("dreamchess-data"),
    Source("plee-the-bear-data"),
    Source("raincat-data"),
    Source("boswars-data"),
    Source("pinball-data"),
    Source("tumiki-fighters-data"),
    Source("manaplus-data"),
    Source("espeak-ng-data", family="espeak_speech", always=("speech/synthetic",)),
    Source("fluid-soundfont-gm", family="soundfont_notes"),
    Source("0ad-data", skip=r"/(art|maps|shaders|simulation/templates)/"),
]

# --------------------------------------------------------------------------- taxonomy
# class -> keywords. A keyword matches a whole word of the file's path (folders and file
# name split at non-letters and camelCase; a trailing "s" is also tried). Order does not
# matter; every matching class is given.
TAXONOMY: dict[str, tuple[str, ...]] = {
    # animals
    "animal/bird": ("bird", "birds", "chirp", "tweet", "seagull", "gull", "crow", "raven",
                    "owl", "duck", "chicken", "hen", "rooster", "parrot", "pigeon", "eagle",
                    "hawk", "cuckoo", "sparrow", "songbird", "woodpecker", "goose", "swan",
                    "birdsong", "peacock", "penguin"),
    "animal/dog": ("dog", "bark", "woof", "puppy", "hound"),
    "animal/wolf": ("wolf", "howl", "wolves"),
    "animal/cat": ("cat", "meow", "purr", "kitten"),
    "animal/big_cat": ("lion", "tiger", "leopard", "panther", "jaguar"),
    "animal/horse": ("horse", "neigh", "whinny", "pony", "hooves", "cavalry"),
    "animal/cattle": ("cow", "moo", "bull", "cattle", "ox", "buffalo", "bison"),
    "animal/sheep_goat": ("sheep", "goat", "baa", "lamb"),
    "animal/pig": ("pig", "oink", "boar", "hog"),
    "animal/insect": ("insect", "bee", "bees", "mosquito", "cricket", "crickets", "cicada",
                      "wasp", "beetle", "locust"),
    "animal/frog": ("frog", "toad", "croak"),
    "animal/elephant": ("elephant", "mammoth"),
    "animal/monkey": ("monkey", "ape", "gorilla", "chimp"),
    "animal/whale_dolphin": ("whale", "dolphin"),
    "animal/fish": ("fish",),
    "animal/rodent": ("rat", "squirrel", "rabbit", "hamster"),
    "animal/camel": ("camel",),
    "animal/deer": ("deer", "elk", "stag"),
    "animal/bear": ("bear",),
    "animal/snake": ("snake", "rattlesnake"),
    "animal/penguin": ("penguin", "penguins"),
    "animal": ("animal", "animals", "creature", "critter", "beast"),
    "creature/monster": ("monster", "zombie", "demon", "ghoul", "ghost", "troll", "orc",
                         "dragon", "imp", "alien", "skeleton", "undead", "goblin", "drake",
                         "wose", "lich", "bat", "spider", "mutant"),
    # people
    "speech": ("speech", "voice", "voices", "talk", "say", "says", "announcer", "narrator",
               "taunt", "acknowledge", "ack"),
    "human/scream": ("scream", "shout", "yell", "cry", "battlecry", "warcry", "shriek"),
    "human/pain": ("pain", "hurt", "ouch", "grunt", "groan", "injured", "wounded", "gasp"),
    "human/death": ("death", "die", "dies", "dying", "dead", "kill", "killed"),
    "human/laugh": ("laugh", "laughter", "giggle", "chuckle"),
    "human/cheer": ("cheer", "cheering", "hooray", "hurray", "yay", "celebrate"),
    "human/crowd": ("crowd", "croud", "audience", "people", "chatter", "market"),
    "human/applause": ("applause", "clap", "clapping"),
    "human/footsteps": ("step", "steps", "footstep", "footsteps", "walk", "walking",
                        "march", "run", "running", "stomp"),
    "human/breath": ("breath", "breathe", "breathing", "sigh", "pant", "snore", "yawn"),
    "human/cough_sneeze": ("cough", "sneeze"),
    "human/eat_drink": ("eat", "eating", "chew", "bite", "gulp", "drink", "burp", "slurp"),
    "human/whistle": ("whistle",),
    "human/kiss": ("kiss",),
    "human/jump_land": ("jump", "land", "landing", "fall", "falling", "thud"),
    # vehicles
    "vehicle/engine": ("engine", "motor", "rev", "idle", "throttle", "turbo", "diesel",
                       "exhaust", "v8", "v6"),
    "vehicle/car": ("car", "cars", "kart", "traffic", "trafic", "racing"),
    "vehicle/truck": ("truck", "lorry", "tractor", "bus", "tank", "tanks", "bulldozer"),
    "vehicle/motorbike": ("motorbike", "motorcycle", "moto", "scooter", "xmoto"),
    "vehicle/aircraft": ("plane", "aircraft", "airplane", "jet", "propeller", "helicopter", "rotor",
                         "vtol", "flyby", "airship", "glider"),
    "vehicle/train": ("train", "locomotive", "rail", "railway", "tram", "monorail",
                      "maglev"),
    "vehicle/boat": ("ship", "boat", "sail", "sailing", "ferry", "submarine", "harbor",
                     "harbour", "ships", "galley", "trireme"),
    "vehicle/rocket": ("rocket", "spaceship", "thruster", "thrust", "launch", "takeoff"),
    "vehicle/horn": ("horn", "honk", "klaxon"),
    "vehicle/skid": ("skid", "tire", "tyre", "screech", "drift", "squeal"),
    "vehicle/brake": ("brake", "brakes", "braking"),
    "vehicle/crash": ("crash", "collision", "collide"),
    "vehicle/gear": ("gear", "gearbox", "shift"),
    "vehicle/bicycle": ("bicycle", "bike"),
    "alarm/siren": ("siren", "sirens"),
    # weapons and fighting
    "weapon/gunshot": ("gun", "guns", "shot", "shoot", "shooting", "rifle", "pistol",
                       "shotgun", "machinegun", "mg", "bullet", "chaingun", "minigun",
                       "musket", "uzi", "sniper", "revolver", "autocannon", "flak",
                       "gatling", "smg", "blaster", "firearm"),
    "weapon/cannon": ("cannon", "artillery", "mortar", "howitzer", "catapult", "ballista",
                      "trebuchet", "siege"),
    "weapon/explosion": ("explode", "explosion", "explosions", "blast", "bomb", "boom",
                         "grenade", "detonate", "detonation", "nuke", "kaboom",
                         "expl"),
    "weapon/laser": ("laser", "plasma", "beam", "zap", "railgun", "phaser", "lightning",
                     "bfg", "pulse", "ion"),
    "weapon/sword": ("sword", "swords", "blade", "slash", "knife", "axe", "dagger",
                     "saber", "sabre", "spear", "melee", "clash", "parry", "mace"),
    "weapon/bow": ("bow", "arrow", "arrows", "crossbow", "archer", "longbow"),
    "weapon/reload": ("reload", "reloading", "ammo"),
    "weapon/ricochet": ("ricochet", "richochet"),
    "weapon/missile": ("missile", "missiles", "rocketlauncher", "homing", "torpedo"),
    "impact/hit": ("hit", "hits", "impact", "punch", "smack", "slap", "strike", "whack",
                   "thump", "bump", "knock"),
    "impact/ball": ("ball", "bounce", "bouncing", "billiard", "pool", "cue", "golf",
                    "putt", "football", "soccer"),
    # nature and environment
    "water": ("water", "splash", "drip", "river", "stream", "wave", "waves",
              "ocean", "sea", "bubble", "bubbles", "pour", "flush", "liquid", "lake",
              "swim", "swimming", "underwater", "fountain", "waterfall", "sink", "droplet",
              "gurgle", "shore", "surf", "lava"),
    "weather/rain": ("rain", "raining", "drizzle", "storm"),
    "weather/thunder": ("thunder", "thunderstorm"),
    "weather/wind": ("wind", "windy", "gust", "breeze", "blizzard", "howling", "windmill"),
    "fire": ("flame", "flames", "burn", "burning", "torch", "campfire", "fireplace",
             "crackle", "fire", "fireball", "flamethrower", "inferno"),
    "ambience": ("ambient", "ambience", "ambiance", "atmosphere", "atmos", "background",
                 "environment", "amb"),
    "ambience/forest": ("forest", "jungle", "woods", "meadow", "swamp", "nature"),
    "ambience/city": ("city", "town", "street", "urban", "residential", "industry",
                      "factory"),
    "ambience/cave": ("cave", "dungeon", "cavern"),
    "ice_snow": ("ice", "snow", "freeze", "frozen", "frost", "snowball"),
    "earth/rumble": ("rumble", "earthquake", "quake", "avalanche", "landslide"),
    "earth/rock": ("rock", "stone", "stones", "rubble", "crumble", "collapse", "gravel",
                   "boulder", "debris", "dirt", "sand", "mud", "dig", "digging"),
    # objects and materials
    "object/door": ("door", "doors", "gate", "gates", "hatch", "portcullis"),
    "object/lock": ("lock", "unlock", "key", "keys", "latch"),
    "object/glass": ("glass", "shatter", "window", "crystal", "bottle"),
    "object/metal": ("metal", "metallic", "clang", "anvil", "iron", "steel", "chain",
                     "chains", "clank", "armor", "armour", "blacksmith", "forge"),
    "object/wood": ("wood", "wooden", "chop", "chopping", "tree", "timber", "lumber",
                    "log", "logs", "plank", "creak", "branch", "sawmill", "woodcutter"),
    "object/paper": ("paper", "page", "book", "scroll", "rustle", "cardboard", "card",
                     "cards", "shuffle"),
    "object/cloth": ("cloth", "fabric", "clothes", "flag", "flap"),
    "object/bell": ("bell", "bells", "chime", "chimes", "ding", "gong", "dong"),
    "object/clock": ("clock", "tick", "ticking", "tock", "timer"),
    "object/phone": ("phone", "telephone", "ring", "ringing", "ringtone", "dial"),
    "object/coin": ("coin", "coins", "cash", "money", "gold", "treasure", "jewel", "gem",
                    "gems", "trade", "buy", "sell", "purchase"),
    "object/tool": ("hammer", "hammering", "saw", "drill", "wrench", "construct",
                    "construction", "build", "building", "repair", "tool", "tools",
                    "pickaxe", "shovel", "anvil"),
    "object/machine": ("machine", "machinery", "mechanism", "mechanical", "servo",
                       "hydraulic", "pump", "piston", "conveyor", "elevator", "lift",
                       "generator", "power", "robot", "mech", "drone", "turret", "motor"),
    "object/electric": ("electric", "electricity", "spark", "sparks", "buzz", "hum",
                        "static", "shock", "teleport", "energy", "shield", "forcefield"),
    "object/container": ("box", "crate", "barrel", "chest", "bucket"),
    "object/pop": ("pop", "popping", "cork", "balloon", "burst"),
    "object/slide": ("slide", "sliding", "scrape", "scratch", "drag", "friction"),
    "object/switch": ("switch", "lever", "toggle", "button"),
    "object/toy": ("toy", "squeak", "rubber"),
    "object/paint": ("paint", "spray", "brush", "erase", "eraser"),
    "motion/whoosh": ("whoosh", "swish", "swoosh", "woosh", "swing", "swipe", "throw",
                      "fly", "flying", "wing", "wings", "flap", "swoop"),
    "motion/squish": ("splat", "squish", "squash", "slime", "goo", "gore", "gib", "gibs",
                      "flesh", "blood"),
    # user interface and game events
    "ui/click": ("click", "clicks", "tap", "press", "pressed", "mouse", "hover",
                 "highlight", "menu"),
    "ui/notification": ("notify", "notification", "message", "alert", "attention",
                        "dialog", "information", "info", "incoming", "reminder", "chat", "mail",
                        "email", "sonar", "ping", "beep",
                        "bleep", "blip"),
    "ui/error": ("error", "warning", "wrong", "invalid", "denied", "cancel",
                 "critical", "buzzer", "fail", "failure", "failed"),
    "ui/success": ("success", "complete", "completed", "win", "won", "victory", "correct",
                   "levelup", "achievement", "accept", "finish", "finished", "congratulations",
                   "winner"),
    "ui/defeat": ("lose", "loss", "defeat", "gameover", "game_over"),
    "ui/startup": ("startup", "login", "logout", "shutdown", "welcome", "desktop", "session"),
    "ui/typing": ("keyboard", "typing", "typewriter", "keypress", "keystroke"),
    "game/pickup": ("pickup", "pick", "collect", "powerup", "power_up",
                    "health", "medkit", "armorshard", "grab", "bonus"),
    "game/countdown": ("countdown",),
    "game/magic": ("magic", "spell", "spells", "heal", "healing", "curse", "enchant",
                   "wizard", "mage", "holy", "arcane", "summon", "portal", "warp",
                   "sparkle", "glitter", "twinkle", "fairy", "mana"),
    # music
    "music/score": ("music", "musics", "song", "songs", "soundtrack", "tune", "tunes", "mus",
                    "menu_music", "credits", "intro",
                    "outro", "ambient_music"),
    "music/jingle": ("jingle", "fanfare", "sting", "stinger", "victory_music", "tada"),
    "music/drum": ("drum", "drums", "drumloop", "kick", "snare", "hihat", "cymbal",
                   "toms", "crash_cymbal", "percussion", "conga",
                   "bongo", "tabla", "timpani", "taiko"),
    "music/instrument": ("piano", "guitar", "bass", "violin", "cello", "flute", "organ",
                         "synth", "harp", "strings", "brass", "sax", "saxophone",
                         "clarinet", "trombone", "tuba", "oboe", "bassoon", "accordion",
                         "marimba", "xylophone", "vibraphone", "glockenspiel", "banjo",
                         "sitar", "lute", "trumpet", "orchestra", "orchestral", "choir"),
    "music/loop": ("loops", "groove", "beat", "beats", "riff"),
}
MUSIC_FOLDERS = {"music", "musics", "mus", "soundtrack", "songs"}
# Language folders of spoken material (Source.speech_language): speech/<code>.
LANGUAGES = {"ar", "bg", "ca", "cs", "da", "de", "el", "en", "eo", "es", "et", "eu", "fa",
             "fi", "fr", "gl", "he", "hi", "hr", "hu", "it", "ja", "ko", "lt", "lv", "nb",
             "nl", "no", "pl", "pt", "ro", "ru", "sk", "sl", "sr", "sv", "tr", "uk", "zh"}
# Words that name nothing about the sound (kept out of matching).
STOP_WORDS = {"usr", "share", "games", "game", "data", "sound", "sounds", "sfx", "snd",
              "audio", "wav", "ogg", "flac", "mp3", "default", "common", "effects", "fx",
              "sample", "samples", "the", "of", "and", "a", "mods", "public", "base",
              "doc", "misc", "stereo", "mono", "sfx_", "lib", "local", "media", "assets"}

# General-MIDI program families (programs 0-127, eight each). Programs 112-119
# (percussive) are held out; 120-127 are sound effects with their own classes.
GM_FAMILIES = ("piano", "chromatic_percussion", "organ", "guitar", "bass", "strings",
               "ensemble", "brass", "reed", "pipe", "synth_lead", "synth_pad",
               "synth_effects", "ethnic", "percussive", "sound_effects")
GM_SOUND_EFFECTS = {120: ("music/instrument/guitar",), 121: ("human/breath",),
                    122: ("water",), 123: ("animal/bird",), 124: ("object/phone",),
                    125: ("vehicle/aircraft",), 126: ("human/applause",),
                    127: ("weapon/gunshot",)}
HELD_OUT_PROGRAMS = range(112, 120)

# Every package here is from Debian's main archive (DFSG-free); a package is still left
# out when its section is contrib/non-free or its copyright file names a non-commercial,
# no-derivatives or non-free licence.
LICENCE_NOT_FREE = re.compile(r"\bnc\b|non-?commercial|\bnd\b|noderiv|non-free|nonfree")


# --------------------------------------------------------------------------- helpers
def path_words(path: str) -> list[str]:
    """Lower-case words of a path: split at non-letters and camelCase boundaries."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", path)
    return [w for w in re.split(r"[^a-z]+", spaced.lower()) if w and w not in STOP_WORDS]


_KEYWORD_TO_CLASSES: dict[str, list[str]] = defaultdict(list)
for _name, _words in TAXONOMY.items():
    for _word in _words:
        _KEYWORD_TO_CLASSES[_word].append(_name)


def with_ancestors(labels: set[str]) -> set[str]:
    """``{"animal/bird"}`` -> ``{"animal", "animal/bird"}``."""
    out = set(labels)
    for label in labels:
        parts = label.split("/")
        out.update("/".join(parts[:i]) for i in range(1, len(parts)))
    return out


def labels_for(source: Source, relative_path: str) -> set[str]:
    """Taxonomy classes named by a file's path, the source's fixed labels, ancestors.

    A file in a music folder (or of a music package) is ``music/score`` only: its name is
    a title ("Penguin_Party", "stone_fortress"), not a description of the sound."""
    labels: set[str] = set(source.always)
    folders = set(path_words(relative_path.rsplit("/", 1)[0])) if "/" in relative_path else set()
    if folders & MUSIC_FOLDERS or source.always == MUSIC:
        return with_ancestors(labels | {"music/score"})
    for word in path_words(relative_path):
        for key in (word, word[:-1] if word.endswith("s") and len(word) > 3 else None):
            if key in _KEYWORD_TO_CLASSES:
                labels.update(_KEYWORD_TO_CLASSES[key])
                break
    if source.speech_language:
        folders = relative_path.lower().split("/")[:-1]
        spoken = [f for f in folders if f in LANGUAGES]
        if spoken or "speech" in source.always:
            labels.add(f"speech/{spoken[-1] if spoken else source.speech_language}")
    if not labels - set(source.always) and not source.always:
        labels.update(source.default)
    return with_ancestors(labels)


def clip_arrays(y: np.ndarray, sample_rate_hz: int) -> list[tuple[int, np.ndarray]]:
    """Cut mono 16 kHz audio into (start sample, clip) pairs of at most MAX_CLIP_SECONDS.

    Clips shorter than MIN_CLIP_SECONDS or quieter than SILENCE_RMS_DBFS are dropped; a
    file longer than MAX_CLIPS_PER_FILE clips keeps that many, evenly spread over it.
    """
    size = int(MAX_CLIP_SECONDS * sample_rate_hz)
    starts = list(range(0, len(y), size))
    if len(starts) > MAX_CLIPS_PER_FILE:
        picks = np.linspace(0, len(starts) - 1, MAX_CLIPS_PER_FILE).round().astype(int)
        starts = [starts[i] for i in sorted(set(picks))]
    clips = []
    for start in starts:
        piece = y[start:start + size]
        if len(piece) < MIN_CLIP_SECONDS * sample_rate_hz:
            continue
        rms = float(np.sqrt(np.mean(piece.astype(np.float64) ** 2)))
        if rms <= 10 ** (SILENCE_RMS_DBFS / 20):
            continue
        clips.append((start, piece))
    return clips


def to_mono_16k(y: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """Mix down to mono float32 and resample to SAMPLE_RATE_HZ (soxr, high quality)."""
    import soxr

    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 2:
        y = y.mean(axis=1)
    if sample_rate_hz != SAMPLE_RATE_HZ:
        y = soxr.resample(y, sample_rate_hz, SAMPLE_RATE_HZ, quality="HQ").astype(np.float32)
    return np.clip(y, -1.0, 1.0)


def write_clips(y: np.ndarray, out_stem: Path) -> list[tuple[str, float]]:
    """Write the clips of one sound as ``<stem>_<start ms>.flac``; (name, seconds) each."""
    written = []
    for start, piece in clip_arrays(y, SAMPLE_RATE_HZ):
        path = out_stem.parent / f"{out_stem.name}_{start * 1000 // SAMPLE_RATE_HZ:07d}.flac"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.flac")
            soundfile.write(tmp, piece, SAMPLE_RATE_HZ, subtype="PCM_16")
            tmp.replace(path)
        written.append((path.name, len(piece) / SAMPLE_RATE_HZ))
    return written


def safe_stem(relative_path: str) -> str:
    """A file-system-safe clip name from a path inside a package."""
    stem = re.sub(r"\.[A-Za-z0-9]+$", "", relative_path)
    return re.sub(r"[^A-Za-z0-9._/-]+", "_", stem).strip("/")


# --------------------------------------------------------------------------- fetch/extract
def fetch(package: str, debs_dir: Path) -> Path:
    """The package's .deb in ``debs_dir``, downloaded with apt-get when missing."""
    debs_dir.mkdir(parents=True, exist_ok=True)
    found = sorted(debs_dir.glob(f"{package}_*.deb"))
    if not found:
        subprocess.run(["apt-get", "download", package], cwd=debs_dir, check=True,
                       stdout=subprocess.DEVNULL)
        found = sorted(debs_dir.glob(f"{package}_*.deb"))
    return found[-1]


def deb_field(deb: Path, name: str) -> str:
    """A control field of a .deb (Version, Section...)."""
    return subprocess.run(["dpkg-deb", "-f", str(deb), name], check=True,
                          capture_output=True, text=True).stdout.strip()


def extract(deb: Path, dest: Path) -> None:
    """Audio files, sound archives and copyright files of a .deb into ``dest``."""
    done = dest / ".extracted"
    if done.exists():
        return
    wanted = AUDIO_SUFFIXES + ARCHIVE_SUFFIXES + (".sf2",)
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)],
                          stdout=subprocess.PIPE) as proc:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                name = member.name.lower()
                if member.isfile() and (name.endswith(wanted) or "/doc/" in name
                                        and name.endswith("/copyright")):
                    tar.extract(member, dest, filter="data")
    done.write_text(deb.name + "\n")


LICENCE_WORDS = (("gnu general public license", "GPL"), ("gnu public license", "GPL"),
                 ("gpl", "GPL"), ("library general public license", "LGPL"),
                 ("creative commons", "CC"), ("public domain", "public-domain"),
                 ("mit license", "MIT"), ("permission is hereby granted", "MIT"),
                 ("bsd", "BSD"))


def licences(src: Path) -> list[str]:
    """The distinct licence names of the package's copyright file(s): the ``License:``
    fields, without font licences (fonts are not sound); where a field holds prose instead
    of a name, or there is no field, the licences the text names (LICENCE_WORDS)."""
    names: set[str] = set()
    for copyright_file in sorted(src.glob("usr/share/doc/*/copyright")):
        text = copyright_file.read_text(errors="replace")
        # [ \t]: a bare "License:" line (its text on the next lines) is no name
        fields = [m.strip() for m in re.findall(r"^License:[ \t]*(\S.*)$", text, re.MULTILINE)]
        for name in fields:
            if "font" in name.lower():
                continue
            for part in re.split(r"\s+(?:and|or|OR|AND)\s+", name):
                if len(part.split()) <= 3 and not part.endswith(":"):
                    names.add(part)
        if not names:
            lowered = text.lower()
            names.update(name for key, name in LICENCE_WORDS if key in lowered)
    return sorted(names)


def licence_is_free(names: list[str], section: str) -> bool:
    """True for a main-archive package whose licences include no NC/ND/non-free one."""
    if section.startswith(("non-free", "contrib")) or not names:
        return False
    return not any(LICENCE_NOT_FREE.search(name.lower()) for name in names)


# --------------------------------------------------------------------------- families
def decode_file(task: tuple[str, str, str]) -> list[tuple[str, float]]:
    """Worker: decode one audio file (path on disk) and write its clips."""
    path, relative, out_dir = task
    try:
        y, rate = soundfile.read(path, dtype="float32", always_2d=False)
    except Exception:  # noqa: BLE001 - unreadable or unsupported: skipped, counted
        return []
    if len(y) == 0:
        return []
    stem = Path(out_dir) / safe_stem(relative)
    return [(str((stem.parent / name).relative_to(out_dir)), s)
            for name, s in write_clips(to_mono_16k(y, rate), stem)]


def decode_bytes(task: tuple[bytes, str, str]) -> list[tuple[str, float]]:
    """Worker: decode one sound held in memory (archive member) and write its clips."""
    data, relative, out_dir = task
    try:
        y, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=False)
    except Exception:  # noqa: BLE001
        return []
    if len(y) == 0:
        return []
    stem = Path(out_dir) / safe_stem(relative)
    return [(str((stem.parent / name).relative_to(out_dir)), s)
            for name, s in write_clips(to_mono_16k(y, rate), stem)]


def sound_files(source: Source, src: Path, out_dir: Path, pool) -> list[tuple[str, str, float]]:
    """Every audio file of the package, and the audio members of its zip/pk3 archives;
    labels from the path inside the package (archive path + member path)."""
    skip = re.compile(source.skip) if source.skip else None
    rows: list[tuple[str, str, float]] = []
    files = sorted(p for p in src.rglob("*") if p.is_file()
                   and p.suffix.lower() in AUDIO_SUFFIXES)
    tasks = []
    for p in files:
        relative = str(p.relative_to(src))
        if skip is None or not skip.search("/" + relative):
            tasks.append((str(p), relative, str(out_dir)))
    for task, written in zip(tasks, pool.map(decode_file, tasks, chunksize=8)):
        rows += [(clip, task[1], seconds) for clip, seconds in written]
    for archive in sorted(p for p in src.rglob("*") if p.suffix.lower() in (".zip", ".pk3", ".wz")):
        with zipfile.ZipFile(archive) as zf:
            members = sorted(n for n in zf.namelist()
                             if n.lower().endswith(AUDIO_SUFFIXES)
                             and (skip is None or not skip.search("/" + n)))
            for batch_start in range(0, len(members), 64):
                batch = members[batch_start:batch_start + 64]
                tasks = [(zf.read(n), f"{archive.stem}/{n}", str(out_dir)) for n in batch]
                for task, written in zip(tasks, pool.map(decode_bytes, tasks)):
                    rows += [(clip, task[1], seconds) for clip, seconds in written]
    return rows


def doom_wad(source: Source, src: Path, out_dir: Path, pool) -> list[tuple[str, str, float]]:
    """Sound lumps (DMX format: u16 format=3, u16 rate, u32 samples, 8-bit unsigned PCM
    with 16 pad bytes each side) of the package's WAD files; labels from the lump name
    (DS<name>), e.g. DSPISTOL -> weapon/gunshot."""
    rows = []
    for wad in sorted(src.rglob("*.wad")):
        data = wad.read_bytes()
        _, n_lumps, directory = struct.unpack_from("<4sii", data, 0)
        for i in range(n_lumps):
            offset, size, raw = struct.unpack_from("<ii8s", data, directory + 16 * i)
            name = raw.rstrip(b"\0").decode("ascii", "replace")
            if not name.startswith("DS") or size < 8:
                continue
            fmt, rate, n = struct.unpack_from("<HHI", data, offset)
            if fmt != 3 or n <= 32 or 8 + n > size:
                continue
            pcm = np.frombuffer(data, np.uint8, n - 32, offset + 8 + 16)
            y = to_mono_16k((pcm.astype(np.float32) - 128.0) / 128.0, rate)
            relative = f"{wad.stem}/{doom_words(name[2:].lower()).replace(' ', '_')}"
            stem = out_dir / safe_stem(relative)
            rows += [(str((stem.parent / c).relative_to(out_dir)), relative, s)
                     for c, s in write_clips(y, stem)]
    return rows


def gm_notes(program: int) -> list[tuple[int, int]]:
    """(note, velocity) pairs rendered per program: every fifth semitone over the
    instrument's useful range, two velocities."""
    low, high = (36, 96) if program < 120 else (48, 72)
    return [(note, velocity) for note in range(low, high + 1, 5) for velocity in (64, 112)]


def soundfont_notes(source: Source, src: Path, out_dir: Path, pool
                    ) -> list[tuple[str, str, float]]:
    """Notes of the melodic FluidR3 GM programs (bank 0), 2 s each (1.5 s held), rendered
    with tinysoundfont; bank 128 (drum kits) and programs 112-119 are held out.
    Labels: music/instrument/<GM family>, or the effect's class for programs 120-127."""
    import tinysoundfont

    (font_path,) = sorted(src.rglob("FluidR3_GM.sf2"))
    rate = 44100
    synth = tinysoundfont.Synth(samplerate=rate)
    font = synth.sfload(str(font_path))
    rows = []
    for program in range(128):
        if program in HELD_OUT_PROGRAMS or not synth.sfpreset_name(font, 0, program):
            continue
        name = re.sub(r"[^A-Za-z0-9]+", "-", synth.sfpreset_name(font, 0, program)).strip("-")
        for note, velocity in gm_notes(program):
            relative = f"program{program:03d}_{name}/n{note:03d}_v{velocity:03d}"
            stem = out_dir / relative
            if not list(stem.parent.glob(f"{stem.name}_*.flac")):
                synth.program_select(0, font, 0, program)
                synth.noteon(0, note, velocity)
                held = np.frombuffer(synth.generate(int(1.5 * rate)), dtype=np.float32)
                synth.noteoff(0, note)
                tail = np.frombuffer(synth.generate(int(0.5 * rate)), dtype=np.float32)
                synth.sounds_off(0)
                synth.generate(rate // 10)
                y = np.concatenate([held, tail]).reshape(-1, 2)
                written = write_clips(to_mono_16k(y, rate), stem)
            else:
                written = [(p.name, soundfile.info(p).duration)
                           for p in sorted(stem.parent.glob(f"{stem.name}_*.flac"))]
            rows += [(str((stem.parent / c).relative_to(out_dir)), relative, s)
                     for c, s in written]
    return rows


def soundfont_labels(relative: str) -> set[str]:
    """Classes of a rendered FluidR3 note from its program number."""
    program = int(relative[len("program"):len("program") + 3])
    if program >= 120:
        return with_ancestors(set(GM_SOUND_EFFECTS[program]))
    return with_ancestors({f"music/instrument/{GM_FAMILIES[program // 8]}"})


# Doom sound lump names (DS<name>, at most 6 letters) spelled out for the taxonomy.
DOOM_WORDS = (("pistol", "pistol"), ("shotgn|dshtgn|sgcock|dbopn|dbload|dbcls", "shotgun"),
              ("plasma", "plasma"), ("bfg", "bfg"), ("rlaunc", "rocket launch"),
              ("rxplod|barexp|firxpl", "explosion"), ("firsht|flame", "fireball"),
              ("doropn|dorcls|bdopn|bdcls", "door"), ("swtch", "switch"),
              ("pain", "pain"), ("dth|die|deth|death", "death"), ("sit|act", "monster"),
              ("itemup|wpnup|getpow|itmbk", "pickup"), ("telept", "teleport"),
              ("punch", "punch"), ("claw|hit", "hit"), ("hoof", "hooves"), ("metal|tink", "metal"),
              ("chgun", "chaingun"), ("saw", "motor"), ("slop", "splat"), ("oof|noway", "grunt"),
              ("pstart|pstop|stnmov", "machine rumble"), ("radio", "notification"),
              ("atk|swg|pch", "attack swing"), ("walk|hoof", "footsteps"))


def doom_words(lump: str) -> str:
    """``"rxplod"`` -> ``"rxplod explosion"``: the lump name and what it says."""
    return " ".join([lump] + [words for pattern, words in DOOM_WORDS
                              if re.search(pattern, lump)])


# espeak-ng and the libraries it loads, unpacked beside its data (nothing is installed).
ESPEAK_DEBS = ("espeak-ng", "libespeak-ng1", "libpcaudio0", "libsonic0", "libpulse0",
               "libsndfile1", "libasyncns0", "libflac12", "libvorbisenc2", "libvorbis0a",
               "libogg0", "libopus0", "libmpg123-0", "libmp3lame0")
ESPEAK_UTTERANCES = 16          # per voice
ESPEAK_VARIANTS = ("", "+m3", "+f2", "+m7", "+f4")


def voice_of(source: Source, relative_path: str) -> str | None:
    """``voice/<project>_<groups>`` of a spoken file (``Source.voice``), else None."""
    match = re.search(source.voice, relative_path) if source.voice else None
    if match is None:
        return None
    return f"voice/{project_of(source.package)}_" + "_".join(match.groups())


def espeak_speech(source: Source, src: Path, out_dir: Path, pool
                  ) -> list[tuple[str, str, float]]:
    """Synthetic speech: every espeak-ng voice (one per language) reads numbers, which it
    speaks in its own language, in varied voice variants, speeds and pitches, all chosen
    from the utterance number (deterministic). Labelled ``speech/synthetic``."""
    root = src / "root"
    if not (root / "usr/bin/espeak-ng").exists():
        for package in ESPEAK_DEBS + (source.package,):
            subprocess.run(["dpkg-deb", "-x", str(fetch(package, src.parent.parent / "debs")),
                            str(root)], check=True)
    libs = root / "usr/lib/x86_64-linux-gnu"
    env = {"LD_LIBRARY_PATH": f"{libs}:{libs / 'pulseaudio'}", "PATH": "/usr/bin:/bin"}
    espeak = [str(root / "usr/bin/espeak-ng"), f"--path={libs}"]
    listing = subprocess.run(espeak + ["--voices"], env=env, check=True, capture_output=True,
                             text=True).stdout.splitlines()[1:]
    voices = sorted({line.split()[1] for line in listing if line.split()})
    rows = []
    for voice in voices:
        for k in range(ESPEAK_UTTERANCES):
            relative = f"{voice}/utterance{k:02d}"
            stem = out_dir / safe_stem(relative)
            done = sorted(stem.parent.glob(f"{stem.name}_*.flac"))
            if done:
                written = [(p.name, soundfile.info(p).duration) for p in done]
            else:
                numbers = [(k * 7919 + i * 104729) % 10 ** (1 + (k + i) % 5) for i in range(3)]
                text = ", ".join(str(n) for n in numbers) + "."
                options = ["-v", voice + ESPEAK_VARIANTS[k % len(ESPEAK_VARIANTS)],
                           "-s", str(130 + 10 * (k % 6)), "-p", str(30 + 8 * (k % 6)),
                           "--stdout", text]
                wav = subprocess.run(espeak + options, env=env, capture_output=True).stdout
                try:
                    y, rate = soundfile.read(io.BytesIO(wav), dtype="float32")
                except Exception:  # noqa: BLE001 - a voice that fails: skipped
                    continue
                written = write_clips(to_mono_16k(y, rate), stem)
            rows += [(str((stem.parent / c).relative_to(out_dir)), relative, s)
                     for c, s in written]
    return rows


FAMILIES = {"sound_files": sound_files, "doom_wad": doom_wad,
            "soundfont_notes": soundfont_notes, "espeak_speech": espeak_speech}


# --------------------------------------------------------------------------- manifest
def project_of(package: str) -> str:
    """The game or project a package belongs to: ``wesnoth-1.16-music`` -> ``wesnoth``,
    ``warzone2100-data`` -> ``warzone2100`` (its data and music packages share a fold)."""
    return re.sub(r"(-[0-9][0-9.]*)?-(data|music|sounds?|common-sounds|sound-effects|"
                  r"data-base|data-common|data-[a-z][a-z])$", "", package)


def session_of(source: Source, relative: str) -> str:
    """The recording session a clip comes from: the project (all its packages), or for
    FluidR3 its program (each program is its own recorded instrument)."""
    if source.family == "soundfont_notes":
        return f"{source.package}/{relative.split('/')[0]}"
    return project_of(source.package)


def assign_folds(seconds_by_session: dict[str, float]) -> dict[str, int]:
    """Folds 1..N_FOLDS by session, balanced by duration (largest first, each to the
    lightest fold; ties by name): deterministic, and no session spans two folds."""
    totals = [0.0] * N_FOLDS
    folds = {}
    for session in sorted(seconds_by_session, key=lambda s: (-seconds_by_session[s], s)):
        fold = min(range(N_FOLDS), key=lambda i: (totals[i], i))
        folds[session] = fold + 1
        totals[fold] += seconds_by_session[session]
    return folds


def build_source(source: Source, work: Path, out: Path, pool) -> dict | None:
    """Fetch, extract, check the licence of and cut one package; its index row."""
    index_path = out / "clips" / source.package / "index.csv"
    info_path = out / "clips" / source.package / "source.txt"
    if index_path.exists() and info_path.exists():
        return dict(csv.DictReader(io.StringIO(info_path.read_text())).__next__())
    started = time.time()
    deb = fetch(source.package, work / "debs")
    src = work / "src" / source.package
    extract(deb, src)
    names = licences(src)
    section = deb_field(deb, "Section")
    info = {"package": source.package, "version": deb_field(deb, "Version"),
            "section": section, "licence": " | ".join(names) or "unknown",
            "free": licence_is_free(names, section)}
    out_dir = out / "clips" / source.package
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = FAMILIES[source.family](source, src, out_dir, pool) if info["free"] else []
    with open(index_path.with_suffix(".tmp"), "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["clip", "original", "seconds"])
        writer.writerows((c, o, f"{s:.3f}") for c, o, s in rows)
    index_path.with_suffix(".tmp").replace(index_path)
    info["build_seconds"] = f"{time.time() - started:.0f}"
    with open(info_path, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(info))
        writer.writeheader()
        writer.writerow(info)
    return info


def spread(items: list, n: int) -> list:
    """At most ``n`` of ``items``, evenly spread (first and last kept)."""
    if len(items) <= n:
        return items
    return [items[i] for i in sorted(set(np.linspace(0, len(items) - 1, n).round().astype(int)))]


def write_manifest(out: Path, sources: list[Source], infos: dict[str, dict],
                   clips_per_file: int = MANIFEST_CLIPS_PER_FILE, *, voices: bool = False
                   ) -> None:
    """manifest.csv (and its train / validation parts), sources.csv and classes.csv from
    the per-package indexes, listing at most ``clips_per_file`` clips of one sound file;
    with ``voices`` a spoken clip also gets ``voice`` and its speaker's class."""
    rows = []  # (path, labels, session, seconds, package)
    speakers = []  # voice_of each row
    for source in sources:
        index_path = out / "clips" / source.package / "index.csv"
        if not index_path.exists():
            continue
        with open(index_path, newline="") as stream:
            by_file: dict[str, list[dict]] = defaultdict(list)
            for row in csv.DictReader(stream):
                by_file[row["original"]].append(row)
            for row in (r for original in by_file
                        for r in spread(by_file[original], clips_per_file)):
                labels = (soundfont_labels(row["original"]) if source.family == "soundfont_notes"
                          else labels_for(source, row["original"]))
                rows.append((f"clips/{source.package}/{row['clip']}", sorted(labels),
                             session_of(source, row["original"]), float(row["seconds"]),
                             source.package))
                speakers.append(voice_of(source, row["original"]) if voices else None)
    speaker_clips = Counter(speakers)
    rows = [(path, sorted({*labels, "voice", speaker}), *rest)
            if speaker and speaker_clips[speaker] >= VOICE_MIN_CLIPS else (path, labels, *rest)
            for (path, labels, *rest), speaker in zip(rows, speakers)]
    seconds_by_session: dict[str, float] = Counter()
    for _, _, session, seconds, _ in rows:
        seconds_by_session[session] += seconds
    folds = assign_folds(seconds_by_session)
    with open(out / "manifest.csv", "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["path", "labels", "fold"])
        for path, labels, session, _, _ in rows:
            writer.writerow([path, ";".join(labels), folds[session]])
    for name, keep in (("manifest_train.csv", lambda f: f != VALIDATION_FOLD),
                       ("manifest_validation.csv", lambda f: f == VALIDATION_FOLD)):
        with open(out / name, "w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(["path", "labels", "fold"])
            for path, labels, session, _, _ in rows:
                if keep(folds[session]):
                    writer.writerow([path, ";".join(labels), folds[session]])
    per_source: dict[str, list[float]] = defaultdict(list)
    for _, _, _, seconds, package in rows:
        per_source[package].append(seconds)
    with open(out / "sources.csv", "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["package", "version", "licence", "free", "clips", "seconds",
                         "folds"])
        for source in sources:
            info = infos.get(source.package)
            if info is None:
                continue
            package_folds = sorted({folds[s] for s in seconds_by_session
                                    if s.split("/")[0] in (source.package,
                                                           project_of(source.package))})
            writer.writerow([source.package, info["version"], info["licence"],
                             info["free"], len(per_source[source.package]),
                             f"{sum(per_source[source.package]):.0f}",
                             " ".join(map(str, package_folds))])
    class_clips: Counter = Counter()
    class_seconds: Counter = Counter()
    for _, labels, _, seconds, _ in rows:
        for label in labels:
            class_clips[label] += 1
            class_seconds[label] += seconds
    with open(out / "classes.csv", "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["class", "clips", "seconds"])
        for label in sorted(class_clips):
            writer.writerow([label, class_clips[label], f"{class_seconds[label]:.0f}"])
    print(f"manifest: {len(rows)} clips, {sum(r[3] for r in rows) / 3600:.1f} h, "
          f"{len(class_clips)} classes, {len({r[4] for r in rows})} packages")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="data/pretraining", type=Path)
    parser.add_argument("--work", type=Path, help="downloads and extracted packages "
                        "(default <out>/work)")
    parser.add_argument("--jobs", type=int, default=2, help="decoding processes")
    parser.add_argument("--only", nargs="*", help="build only these packages")
    parser.add_argument("--clips-per-file", type=int, default=MANIFEST_CLIPS_PER_FILE,
                        help="clips of one sound file listed in the manifest")
    parser.add_argument("--manifest-only", action="store_true",
                        help="rewrite the manifest from the clips already built")
    parser.add_argument("--voices", action="store_true",
                        help="add voice/<project>_<speaker> labels to spoken clips "
                             "(Source.voice); off: the manifest of the shipped network")
    args = parser.parse_args()
    out = args.out
    work = args.work or out / "work"
    held = [s.package for s in SOURCES if s.package in HOLD_OUT or s.package in RESERVED]
    if held:
        raise SystemExit(f"held-out or reserved packages listed as sources: {held}")
    chosen = [s for s in SOURCES if not args.only or s.package in args.only]
    infos: dict[str, dict] = {}
    started = time.time()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for source in chosen:
            if args.manifest_only:
                info_path = out / "clips" / source.package / "source.txt"
                if info_path.exists():
                    info = next(csv.DictReader(io.StringIO(info_path.read_text())))
                    src = work / "src" / source.package
                    if src.exists():  # the licence rules may have changed since
                        info["licence"] = " | ".join(licences(src)) or "unknown"
                    infos[source.package] = info
                continue
            try:
                info = build_source(source, work, out, pool)
            except (subprocess.CalledProcessError, OSError, ValueError) as error:
                print(f"{source.package}: failed ({error}); left out")
                continue
            infos[source.package] = info
            print(f"{source.package} {info['version']}: licence {info['licence']} "
                  f"(free: {info['free']}), {time.time() - started:.0f} s so far", flush=True)
    write_manifest(out, SOURCES, infos, args.clips_per_file, voices=args.voices)
    print(f"built in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
