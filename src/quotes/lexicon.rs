//! Word lists: reporting verbs, titles, organisation heads, abbreviations.
//! Kept in one place so the rules elsewhere read as rules, not data.

use std::collections::HashSet;
use std::sync::LazyLock;

fn set(words: &'static [&'static str]) -> HashSet<&'static str> {
    words.iter().copied().collect()
}

/// Finite reporting verbs (lowercase, as written).
#[rustfmt::skip]
pub(crate) static CUES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    set(&[
        "said", "says", "say", "told", "tells", "added", "adds", "wrote", "writes", "warned",
        "warns", "stated", "declared", "declares", "insisted", "insists", "noted", "stressed",
        "stresses", "argued", "argues", "asked", "asks", "answered", "replied", "replies",
        "explained", "explains", "claimed", "announced", "announces", "tweeted", "posted", "urged",
        "urges", "vowed", "vows", "pledged", "threatened", "acknowledged", "admitted", "cautioned",
        "conceded", "countered", "continued", "recalled", "suggested", "agreed", "called",
        "described", "condemned", "emphasized", "emphasised", "reiterated", "repeated",
        "predicted", "promised", "complained", "remarked", "observed", "responded", "confirmed",
        "denied", "alleged", "demanded", "commented", "concluded", "boasted", "quipped", "shouted",
        "wondered", "signaled", "signalled", "branded", "dubbed", "labelled", "labeled", "termed",
        "maintained", "reported", "insist", "warn", "spoke", "denounce", "denounced", "denounces",
        "accused", "criticized", "criticised", "hailed", "pleaded",
    ])
});

/// Participle cues whose subject is the subject of the main clause.
#[rustfmt::skip]
pub(crate) static PARTICIPLES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    set(&[
        "saying", "adding", "telling", "writing", "noting", "warning", "stressing", "insisting",
        "arguing", "declaring", "calling", "describing", "urging", "asking", "explaining",
        "stating", "claiming", "vowing", "pledging", "acknowledging", "admitting", "reiterating",
        "repeating", "emphasizing", "emphasising", "suggesting", "predicting", "promising",
        "threatening", "cautioning", "conceding", "recalling", "replying", "answering",
        "countering", "announcing", "tweeting", "posting", "branding",
    ])
});

/// Words skipped between a subject and its verb ("Novak also said").
#[rustfmt::skip]
pub(crate) static VERB_ADJUNCTS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    set(&[
        "also", "later", "then", "again", "previously", "separately", "earlier", "further", "once",
        "has", "had", "have", "was", "is", "will", "would", "reportedly", "recently", "repeatedly",
        "subsequently", "likewise", "similarly", "still", "often", "had", "did", "does", "first",
        "quickly", "only", "just", "publicly", "privately",
    ])
});

/// Titles and role words stripped from the front of a person's name.
#[rustfmt::skip]
pub(crate) static TITLES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    set(&[
        "President", "Vice", "Prime", "Minister", "Foreign", "Defence", "Defense", "Secretary",
        "State", "Ambassador", "Gen.", "General", "Adm.", "Admiral", "Col.", "Colonel", "Lt.",
        "Lieutenant", "Maj.", "Major", "Capt.", "Captain", "Sgt.", "Sergeant", "Cmdr.",
        "Commander", "Sen.", "Senator", "Rep.", "Representative", "Gov.", "Governor", "Dr.", "Mr.",
        "Mrs.", "Ms.", "Miss", "Prof.", "Professor", "Rev.", "Chancellor", "Premier", "King",
        "Queen", "Prince", "Princess", "Pope", "Sheikh", "Chairman", "Chairwoman", "Chair",
        "Chief", "Spokesman", "Spokeswoman", "Spokesperson", "Envoy", "Director", "Mayor",
        "Deputy", "Marshal", "Justice", "Judge", "Speaker", "Leader", "Interior", "Finance",
        "Economy", "Trade", "Affairs", "Special", "Press", "Secretary-General", "Attorney",
        "Supreme", "Acting", "Former", "Senior", "Assistant", "Under", "Undersecretary",
        "Minority", "Majority", "Opposition", "Sir", "Dame", "Lord", "Lady", "Emir", "Crown",
        "National", "Security", "Adviser", "Advisor", "Head", "Foreign-Minister", "Army", "Navy",
        "Air", "Joint", "Staff", "Commissioner", "High", "Top", "Colonel-General",
        "Lieutenant-General", "Major-General", "Brig.", "Brigadier", "Gen", "Commodore",
        "Comandante", "Commandant", "Sgt.-Maj.", "Field", "Vice-President", "Mullah", "Imam",
        "Ayatollah", "Rabbi", "Bishop", "Archbishop", "Patriarch", "Cardinal", "Father", "Sister",
        "Ombudsman", "Ombudswoman", "Auditor", "Inspector", "Trade", "Sheikha",
    ])
});

/// Nationality adjectives and country/place words that precede titles.
#[rustfmt::skip]
pub(crate) static NATIONALITIES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    set(&[
        "American", "Russian", "Ukrainian", "Chinese", "Taiwanese", "Korean", "Japanese", "German",
        "French", "British", "Iranian", "Israeli", "Palestinian", "Turkish", "Polish", "Indian",
        "Pakistani", "European", "Belarusian", "Syrian", "Iraqi", "Saudi", "Egyptian", "Italian",
        "Spanish", "Canadian", "Australian", "North", "South", "Lebanese", "Jordanian", "Qatari",
        "Emirati", "Afghan", "Georgian", "Armenian", "Azerbaijani", "Hungarian", "Romanian",
        "Moldovan", "Lithuanian", "Latvian", "Estonian", "Finnish", "Swedish", "Norwegian",
        "Danish", "Dutch", "Belgian", "Swiss", "Austrian", "Czech", "Slovak", "Greek", "Serbian",
        "Croatian", "Mexican", "Brazilian", "Venezuelan", "Cuban", "Filipino", "Vietnamese",
        "Thai", "Indonesian", "Malaysian", "Yemeni", "Houthi", "Kremlin", "Pentagon", "U.S.",
        "U.N.", "U.K.", "E.U.", "US", "UN", "UK", "EU", "NATO", "White", "House", "Western",
        "Eastern", "Soviet",
    ])
});

/// Last words that make a capitalised run an organisation.
#[rustfmt::skip]
pub(crate) static ORG_HEADS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    set(&[
        "Ministry", "Department", "Command", "Agency", "Office", "Staff", "Council", "Committee",
        "Commission", "Government", "Administration", "Army", "Navy", "Forces", "Force", "Guard",
        "Guards", "Service", "Services", "Bureau", "House", "Kremlin", "Pentagon", "Alliance",
        "Union", "Organization", "Organisation", "Nations", "Parliament", "Assembly", "Congress",
        "Senate", "Embassy", "Mission", "Cabinet", "Party", "Court", "Bank", "Fund", "Institute",
        "Centre", "Center", "University", "Authority", "Authorities", "Corps", "Headquarters",
        "Group", "Coalition", "Front", "Movement", "News", "Times", "Post", "Press", "Presse",
        "Journal", "Network", "Television", "Radio", "Association", "Federation", "Society",
        "Foundation", "Company", "Corporation", "Inc.", "Ltd.", "Chiefs", "Secretariat",
        "Directorate", "Police", "Brigade", "Battalion", "Division", "Regiment", "Fleet",
        "Reuters", "Xinhua", "Tass", "TASS", "Interfax", "Yonhap", "Kyodo", "Welle", "Agence",
        "France-Presse", "Watch", "International", "Council's", "Cabinet", "Secretariat", "Board",
        "Tribunal", "Prosecutor's", "Legislature", "Duma", "Knesset", "Rada", "Bundestag",
        "Holdings", "Semiconductor", "Semiconductors", "Technologies", "Systems", "Industries",
        "Motors", "Airlines", "Electronics", "Pharmaceuticals", "Energy", "AG", "GmbH", "SA",
        "Corp.", "Co.", "LLC", "Secretariat", "Delegation", "Community", "Ministries", "Blog",
        "Channel",
    ])
});

/// Capitalised words that never belong to a person's name.
#[rustfmt::skip]
pub(crate) static NON_NAME: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    set(&[
        "The", "A", "An", "In", "On", "At", "But", "And", "Or", "So", "Yet", "As", "After",
        "Before", "While", "When", "If", "Although", "Though", "Because", "Since", "Meanwhile",
        "However", "Still", "Asked", "Also", "Then", "This", "That", "These", "Those", "There",
        "Here", "It", "Its", "His", "Her", "Their", "Our", "We", "He", "She", "They", "I", "By",
        "For", "From", "With", "Without", "Under", "Over", "To", "Of", "About", "Amid", "Despite",
        "During", "Earlier", "Later", "Last", "Next", "Separately", "Elsewhere", "Now", "Once",
        "Some", "Many", "Most", "Several", "Both", "Each", "Every", "No", "Not", "One", "Two",
        "What", "Who", "Why", "How", "Where", "Which", "Even", "Only", "Just", "Instead", "Indeed",
        "According", "Back", "Afterwards", "Afterward", "Join", "Make", "Read", "See", "Watch",
        "Like", "January", "February", "March", "April", "May", "June", "July", "August",
        "September", "October", "November", "December", "Jan.", "Feb.", "Mar.", "Apr.", "Aug.",
        "Sept.", "Sep.", "Oct.", "Nov.", "Dec.", "Monday", "Tuesday", "Wednesday", "Thursday",
        "Friday", "Saturday", "Sunday", "North", "South", "East", "West", "Eastern", "Western",
        "Northern", "Southern", "Central", "Sea", "Ocean", "Island", "Islands", "Strait",
        "Peninsula", "River", "Mountains", "Gulf", "Bay", "Coast", "Europe", "Asia", "America",
        "Africa", "Korea", "Kingdom", "States", "Republic", "City", "Line", "Day", "War", "World",
        "United", "Middle", "Arctic", "Pacific", "Atlantic", "Baltic", "Black", "Red",
        "Mediterranean", "Valley", "Region", "Province", "Oblast", "Street", "Square", "Airport",
        "Port", "Station", "Base", "Bridge", "Canal", "Lake", "Desert", "Hill", "Hills", "Plain",
        "Border", "Zone", "Treaty", "Accord", "Accords", "Agreement", "Act", "Plan", "Operation",
        "Summit", "Conference", "Forum", "Games", "Cup", "Olympics", "Facebook", "Twitter",
        "Telegram", "Instagram", "YouTube", "TikTok", "Weibo", "X", "Christmas", "Easter",
        "Ramadan", "God", "Mass", "Destruction", "Weapons", "Union", "Federation", "Strip", "Bank",
        "Heights", "Crimea", "Donbas", "Charter", "Council",
    ])
});

/// Single-word countries, capitals and blocs (they speak as organisations).
#[rustfmt::skip]
pub(crate) static PLACES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    set(&[
        "Russia", "Ukraine", "China", "Taiwan", "Japan", "Korea", "Iran", "Israel", "Iraq",
        "Syria", "Turkey", "Egypt", "Jordan", "Lebanon", "Qatar", "Yemen", "Afghanistan",
        "Pakistan", "India", "Germany", "France", "Britain", "Italy", "Spain", "Poland", "Belarus",
        "Georgia", "Armenia", "Azerbaijan", "Hungary", "Romania", "Moldova", "Lithuania", "Latvia",
        "Estonia", "Finland", "Sweden", "Norway", "Denmark", "Netherlands", "Belgium",
        "Switzerland", "Austria", "Greece", "Serbia", "Kosovo", "Mexico", "Brazil", "Venezuela",
        "Cuba", "Canada", "Australia", "Philippines", "Vietnam", "Thailand", "Indonesia",
        "Malaysia", "Singapore", "Moscow", "Kyiv", "Kiev", "Beijing", "Washington", "Seoul",
        "Pyongyang", "Taipei", "Tokyo", "Tehran", "London", "Paris", "Berlin", "Brussels",
        "Ankara", "Damascus", "Baghdad", "Cairo", "Jerusalem", "Warsaw", "Minsk", "Tbilisi",
        "Hamas", "Hezbollah", "Kremlin", "Pentagon", "Europe", "Gaza", "Riyadh", "Delhi",
        "Islamabad", "Kabul", "Ottawa", "Canberra", "Manila", "Hanoi", "Bangkok", "Jakarta",
        "Budapest", "Bucharest", "Vilnius", "Riga", "Tallinn", "Helsinki", "Stockholm", "Oslo",
        "Copenhagen", "Amsterdam", "Vienna", "Athens", "Belgrade", "Rome", "Madrid", "Havana",
        "Caracas", "Tokyo", "Westminster",
    ])
});

/// Common role nouns: a subject headed by one is a description, not a name.
#[rustfmt::skip]
pub(crate) static PERSON_ROLES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    set(&[
        "diplomat", "minister", "spokesman", "spokeswoman", "spokesperson", "envoy", "official",
        "president", "chief", "ambassador", "secretary", "leader", "general", "commander",
        "premier", "chancellor", "negotiator", "aide", "adviser", "advisor", "analyst", "expert",
        "lawmaker", "senator", "governor", "mayor", "officer", "director", "head", "chairman",
        "chairwoman", "representative", "prosecutor", "judge", "professor", "researcher",
        "resident", "witness", "source", "man", "woman", "soldier", "colonel", "admiral",
        "captain", "deputy", "politician", "legislator", "activist", "economist", "strategist",
        "commentator", "journalist", "correspondent", "king", "queen", "prince", "monarch",
        "pilot", "veteran", "doctor", "nurse", "farmer", "student", "mother", "father", "vendor",
        "fisherman", "reader", "engineer", "source", "banker", "executive", "worker", "owner",
        "teacher", "nun", "priest", "mourner", "survivor", "farmer", "ombudswoman", "ombudsman",
        "negotiator", "mediator", "envoy", "captain", "sailor", "18-year-old", "19-year-old",
        "20-year-old", "person", "employee", "manager", "economist", "trader", "dockworker",
        "lawyer", "attorney", "scholar", "historian",
    ])
});

/// Plural role nouns: unnamed groups, never a resolvable speaker.
#[rustfmt::skip]
pub(crate) static GROUP_ROLES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    set(&[
        "officials", "analysts", "experts", "residents", "witnesses", "sources", "critics",
        "authorities", "protesters", "police", "troops", "soldiers", "lawmakers", "leaders",
        "vendors", "diplomats", "observers", "people", "sides", "advisers", "advisors",
        "ministers", "commanders", "officers", "reporters", "locals", "villagers", "citizens",
        "activists", "economists", "investors", "traders", "voters", "members", "others", "rebels",
        "militants", "organizers", "organisers", "scientists", "researchers", "politicians",
        "governments", "countries", "states", "delegations", "mediators", "negotiators",
        "guarantors", "workers", "unions", "companies", "firms", "families",
    ])
});

/// Lowercase heads of organisation descriptions ("the ministry").
#[rustfmt::skip]
pub(crate) static ORG_NOUNS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    set(&[
        "ministry", "department", "agency", "government", "military", "army", "navy", "command",
        "office", "embassy", "alliance", "council", "committee", "commission", "administration",
        "kremlin", "pentagon", "bloc", "organization", "organisation", "union", "party", "group",
        "coalition", "cabinet", "parliament", "court", "service", "guard", "company", "bank",
        "institute", "statement", "regime", "mission", "bureau", "newspaper", "broadcaster",
        "outlet", "delegation", "firm", "secretariat", "team", "board", "club", "authority",
        "militia", "movement", "force", "forces", "guard", "police", "ministry's", "operator",
        "insurer", "carrier", "union's",
    ])
});

/// Heads that name a document rather than a speaker ("the statement said").
#[rustfmt::skip]
pub(crate) static STATEMENT_NOUNS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    set(&[
        "statement", "letter", "communique", "communiqué", "message", "post", "note", "release",
        "report", "declaration", "tweet", "video", "document", "memo", "filing", "notice",
        "readout", "transcript", "resolution", "order", "decree", "text",
    ])
});

/// Last words of company names ("the company" refers back to them).
#[rustfmt::skip]
pub(crate) static COMPANY_HEADS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    set(&[
        "Holdings", "Group", "Company", "Inc.", "Corp.", "Co.", "Ltd.", "LLC", "AG", "GmbH", "SA",
        "Semiconductor", "Semiconductors", "Technologies", "Systems", "Industries", "Motors",
        "Airlines", "Electronics", "Pharmaceuticals", "Energy", "Corporation", "Bank",
    ])
});

/// Abbreviations after which a period does not end a sentence.
#[rustfmt::skip]
pub(crate) static ABBREVIATIONS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    set(&[
        "Mr", "Mrs", "Ms", "Dr", "Gen", "Lt", "Col", "Maj", "Capt", "Cmdr", "Adm", "Sgt", "Sen",
        "Rep", "Gov", "Prof", "Rev", "Hon", "St", "Jr", "Sr", "Jan", "Feb", "Mar", "Apr", "Aug",
        "Sept", "Sep", "Oct", "Nov", "Dec", "No", "vs", "etc", "Inc", "Corp", "Co", "Ltd", "Mt",
        "Ft", "approx", "Brig", "Gens", "Reps", "Sens", "Messrs", "Fig", "Vol", "pp", "cf",
    ])
});

/// Abbreviations that may also close a sentence ("... talks with the U.S. The").
pub(crate) fn abbrev_may_end(word: &str) -> bool {
    let bare = word.trim_end_matches('.');
    bare.contains('.') || matches!(bare, "etc" | "Inc" | "Co" | "Ltd" | "Jr" | "Sr" | "Corp")
}

/// Capitalised words that typically open a new sentence.
pub(crate) fn is_sentence_starter(word: &str) -> bool {
    matches!(
        word,
        "The"
            | "He"
            | "She"
            | "It"
            | "They"
            | "We"
            | "I"
            | "But"
            | "And"
            | "In"
            | "On"
            | "At"
            | "A"
            | "An"
            | "This"
            | "That"
            | "Its"
            | "His"
            | "Her"
            | "Their"
            | "Our"
            | "There"
            | "However"
            | "Meanwhile"
            | "As"
            | "After"
            | "While"
            | "When"
            | "If"
            | "Some"
    )
}

/// Lowercase words allowed inside a capitalised name run ("Joint Chiefs of Staff",
/// "Ambassador to the U.N.", "Osama bin Laden").
pub(crate) fn is_name_connector(word: &str) -> bool {
    matches!(
        word,
        "of" | "to"
            | "the"
            | "for"
            | "de"
            | "del"
            | "da"
            | "di"
            | "al"
            | "el"
            | "bin"
            | "ibn"
            | "von"
            | "van"
            | "der"
            | "den"
            | "du"
            | "la"
            | "le"
            | "y"
            | "on"
    )
}

pub(crate) fn is_determiner(word: &str) -> bool {
    matches!(
        word.to_lowercase().as_str(),
        "the"
            | "a"
            | "an"
            | "his"
            | "her"
            | "its"
            | "their"
            | "our"
            | "this"
            | "that"
            | "one"
            | "another"
            | "these"
            | "those"
            | "my"
            | "your"
    )
}

/// Words at which a subject search stops: clause joints and subordinators.
pub(crate) fn is_clause_joint(word: &str) -> bool {
    matches!(
        word,
        "and"
            | "but"
            | "or"
            | "that"
            | "which"
            | "who"
            | "whom"
            | "whose"
            | "while"
            | "because"
            | "although"
            | "though"
            | "as"
            | "when"
            | "if"
            | "whether"
            | "after"
            | "before"
            | "since"
            | "where"
            | "so"
            | "nor"
            | "yet"
            | "than"
    )
}

pub(crate) fn pronoun(word: &str) -> Option<&'static str> {
    match word {
        "he" | "He" => Some("he"),
        "she" | "She" => Some("she"),
        "it" | "It" => Some("it"),
        "they" | "They" => Some("they"),
        _ => None,
    }
}
