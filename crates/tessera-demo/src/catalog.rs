//! Static vocabularies of the demo shop: places, products, channels, devices,
//! campaigns, search queries and feedback phrases.

/// Country codes; per-type country weights in `model` use this order.
pub(crate) const COUNTRIES: [&str; 9] = ["DE", "FR", "GB", "NL", "ES", "IT", "PL", "SE", "US"];

/// Cities of each country of [`COUNTRIES`] with population-like weights.
pub(crate) const CITIES: [&[(&str, f64)]; 9] = [
    &[
        ("Berlin", 10.0),
        ("Hamburg", 6.0),
        ("München", 5.0),
        ("Köln", 4.0),
        ("Frankfurt am Main", 3.0),
        ("Stuttgart", 2.5),
        ("Düsseldorf", 2.5),
        ("Leipzig", 2.0),
        ("Dortmund", 2.0),
        ("Bremen", 1.5),
        ("Dresden", 1.5),
        ("Nürnberg", 1.5),
    ],
    &[
        ("Paris", 10.0),
        ("Marseille", 4.0),
        ("Lyon", 4.0),
        ("Toulouse", 3.0),
        ("Nice", 2.0),
        ("Nantes", 2.0),
        ("Strasbourg", 2.0),
        ("Bordeaux", 2.0),
        ("Lille", 2.0),
    ],
    &[
        ("London", 12.0),
        ("Birmingham", 3.0),
        ("Manchester", 3.0),
        ("Leeds", 2.0),
        ("Glasgow", 2.0),
        ("Liverpool", 2.0),
        ("Bristol", 2.0),
        ("Edinburgh", 2.0),
    ],
    &[
        ("Amsterdam", 6.0),
        ("Rotterdam", 4.0),
        ("Den Haag", 3.0),
        ("Utrecht", 3.0),
        ("Eindhoven", 2.0),
        ("Groningen", 1.5),
    ],
    &[
        ("Madrid", 8.0),
        ("Barcelona", 7.0),
        ("Valencia", 3.0),
        ("Sevilla", 2.5),
        ("Zaragoza", 2.0),
        ("Málaga", 2.0),
        ("Bilbao", 1.5),
    ],
    &[
        ("Roma", 7.0),
        ("Milano", 6.0),
        ("Napoli", 4.0),
        ("Torino", 3.0),
        ("Palermo", 2.0),
        ("Bologna", 2.0),
        ("Firenze", 2.0),
    ],
    &[
        ("Warszawa", 7.0),
        ("Kraków", 4.0),
        ("Łódź", 3.0),
        ("Wrocław", 3.0),
        ("Poznań", 2.5),
        ("Gdańsk", 2.0),
    ],
    &[
        ("Stockholm", 7.0),
        ("Göteborg", 4.0),
        ("Malmö", 3.0),
        ("Uppsala", 2.0),
    ],
    &[
        ("New York", 8.0),
        ("Los Angeles", 5.0),
        ("Chicago", 4.0),
        ("Houston", 3.0),
        ("Phoenix", 2.0),
        ("Seattle", 2.0),
        ("Boston", 2.0),
        ("San Francisco", 2.0),
    ],
];

pub(crate) const GENDERS: [&str; 3] = ["f", "m", "x"];
pub(crate) const COMPANY_SIZES: [&str; 5] = ["1-10", "11-50", "51-200", "201-1000", "1000+"];
pub(crate) const INDUSTRIES: [&str; 8] = [
    "retail",
    "manufacturing",
    "healthcare",
    "education",
    "technology",
    "hospitality",
    "logistics",
    "construction",
];
pub(crate) const DEVICES: [&str; 3] = ["desktop", "mobile", "tablet"];
pub(crate) const OSES: [&str; 5] = ["windows", "macos", "linux", "ios", "android"];
pub(crate) const BROWSERS: [&str; 5] = ["chrome", "safari", "firefox", "edge", "samsung"];

pub(crate) const CATEGORIES: [&str; 8] = [
    "shoes",
    "apparel",
    "accessories",
    "electronics",
    "home",
    "beauty",
    "sports",
    "books",
];
/// Typical unit price per category, used to derive the item count.
pub(crate) const UNIT_PRICE: [f64; 8] = [65.0, 35.0, 20.0, 160.0, 40.0, 15.0, 45.0, 12.0];
pub(crate) const CHANNELS: [&str; 4] = ["web", "app", "store", "phone"];

pub(crate) const EVENT_NAMES: [&str; 8] = [
    "page_view",
    "product_view",
    "add_to_cart",
    "checkout",
    "email_open",
    "email_click",
    "app_open",
    "search",
];
pub(crate) const PAGES: [&str; 5] = ["/", "/sale", "/new", "/account", "/stores"];
pub(crate) const APP_VERSIONS: [&str; 4] = ["4.8.2", "5.0.1", "5.2.0", "5.3.4"];

/// Three search queries per category of [`CATEGORIES`].
pub(crate) const QUERIES: [&str; 24] = [
    "running shoes",
    "sneakers white",
    "winter boots",
    "rain jacket",
    "linen shirt",
    "50/50 \"limited\" tee",
    "leather belt",
    "sunglasses",
    "wallet",
    "13\" laptop sleeve",
    "wireless earbuds",
    "usb-c hub",
    "bed linen",
    "coffee grinder",
    "desk lamp",
    "crème hydratante",
    "sunscreen spf 50",
    "shampoo",
    "yoga mat",
    "tennis racket",
    "dumbbells 10kg",
    "crime novel",
    "cookbook vegan",
    "kids books",
];

/// Email campaigns sent every year: (month, day, name).
pub(crate) const CAMPAIGNS: [(u32, u32, &str); 11] = [
    (1, 8, "winter_sale"),
    (2, 10, "valentines"),
    (3, 20, "spring_sale"),
    (4, 15, "easter"),
    (5, 20, "mid_season"),
    (6, 25, "summer_sale"),
    (8, 28, "back_to_school"),
    (10, 10, "autumn_edit"),
    (11, 25, "black_friday"),
    (12, 1, "cyber_monday"),
    (12, 12, "christmas"),
];

/// Feedback comment sentences by sentiment (positive, neutral, negative).
pub(crate) const COMMENTS: [&[&str]; 3] = [
    &[
        "Great quality, fast delivery.",
        "Love it!",
        "Exactly as described.",
        "The \"express\" shipping really was express.",
        "Super schnell geliefert, danke!",
        "Très bien, merci.",
        "Friendly staff in the store.",
        "Will buy again.",
    ],
    &[
        "Okay.",
        "Delivery took a bit longer than expected.",
        "Sizes run small, order one up.",
        "Good product, but the packaging was excessive.",
        "The app is fine, the website is slow.",
        "Price is \"fair\", nothing special.",
    ],
    &[
        "Item arrived damaged.",
        "Refund took three weeks, not acceptable.",
        "Customer service never answered my email.",
        "The \"waterproof\" jacket is not waterproof.",
        "Wrong size, wrong colour, again.",
        "Too expensive for this quality.",
    ],
];
