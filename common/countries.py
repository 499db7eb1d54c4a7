"""Countries by ISO 3166-1 alpha-2 code: their English names, and a code from a name.

One table for every part of Trail that names countries: the GA4 importer reads English
names (`code_of`), the reports' `visit:country_name` shows them (`NAMES`).
"""

from __future__ import annotations

from functools import lru_cache

# English country names as GA4 writes them (CLDR's short names) and their common longer
# forms → ISO 3166-1 alpha-2. Generated from Faker's country list (ISO names) and completed
# by hand with GA4's spellings and territories; keys are folded by `fold`.
_TABLE = """
AD Andorra|AE United Arab Emirates|AF Afghanistan|AG Antigua and Barbuda|AI Anguilla
AL Albania|AM Armenia|AO Angola|AQ Antarctica|AR Argentina|AS American Samoa|AT Austria
AU Australia|AW Aruba|AX Aland Islands;Åland Islands|AZ Azerbaijan
BA Bosnia and Herzegovina|BB Barbados|BD Bangladesh|BE Belgium|BF Burkina Faso
BG Bulgaria|BH Bahrain|BI Burundi|BJ Benin|BL St. Barthelemy;St. Barthélemy|BM Bermuda
BN Brunei;Brunei Darussalam|BO Bolivia|BQ Caribbean Netherlands|BR Brazil|BS Bahamas
BT Bhutan|BW Botswana|BY Belarus|BZ Belize|CA Canada|CC Cocos (Keeling) Islands
CD Congo - Kinshasa;Democratic Republic of the Congo;DR Congo
CF Central African Republic|CG Congo - Brazzaville;Republic of the Congo;Congo
CH Switzerland|CI Cote d'Ivoire;Côte d'Ivoire;Ivory Coast|CK Cook Islands|CL Chile
CM Cameroon|CN China;People's Republic of China|CO Colombia|CR Costa Rica|CU Cuba
CV Cape Verde;Cabo Verde|CW Curacao;Curaçao|CX Christmas Island|CY Cyprus
CZ Czechia;Czech Republic|DE Germany|DJ Djibouti|DK Denmark|DM Dominica
DO Dominican Republic|DZ Algeria|EC Ecuador|EE Estonia|EG Egypt|EH Western Sahara
ER Eritrea|ES Spain|ET Ethiopia|FI Finland|FJ Fiji|FK Falkland Islands
FM Micronesia;Federated States of Micronesia|FO Faroe Islands|FR France|GA Gabon
GB United Kingdom;Great Britain|GD Grenada|GE Georgia|GF French Guiana|GG Guernsey
GH Ghana|GI Gibraltar|GL Greenland|GM Gambia;The Gambia|GN Guinea|GP Guadeloupe
GQ Equatorial Guinea|GR Greece|GT Guatemala|GU Guam|GW Guinea-Bissau|GY Guyana
HK Hong Kong|HN Honduras|HR Croatia|HT Haiti|HU Hungary|ID Indonesia
IE Ireland;Republic of Ireland|IL Israel|IM Isle of Man|IN India
IO British Indian Ocean Territory|IQ Iraq|IR Iran|IS Iceland|IT Italy|JE Jersey
JM Jamaica|JO Jordan|JP Japan|KE Kenya|KG Kyrgyzstan|KH Cambodia|KI Kiribati|KM Comoros
KN St. Kitts and Nevis;Saint Kitts and Nevis|KP North Korea|KR South Korea|KW Kuwait
KY Cayman Islands|KZ Kazakhstan|LA Laos|LB Lebanon|LC St. Lucia;Saint Lucia
LI Liechtenstein|LK Sri Lanka|LR Liberia|LS Lesotho|LT Lithuania|LU Luxembourg|LV Latvia
LY Libya|MA Morocco|MC Monaco|MD Moldova|ME Montenegro|MF St. Martin|MG Madagascar
MH Marshall Islands|MK North Macedonia;Macedonia|ML Mali|MM Myanmar (Burma);Myanmar
MN Mongolia|MO Macao;Macau|MP Northern Mariana Islands|MQ Martinique|MR Mauritania
MS Montserrat|MT Malta|MU Mauritius|MV Maldives|MW Malawi|MX Mexico|MY Malaysia
MZ Mozambique|NA Namibia|NC New Caledonia|NE Niger|NF Norfolk Island|NG Nigeria
NI Nicaragua|NL Netherlands;Kingdom of the Netherlands|NO Norway|NP Nepal|NR Nauru|NU Niue
NZ New Zealand|OM Oman|PA Panama|PE Peru|PF French Polynesia|PG Papua New Guinea
PH Philippines|PK Pakistan|PL Poland|PM St. Pierre and Miquelon|PR Puerto Rico
PS Palestine;Palestinian Territories|PT Portugal|PW Palau|PY Paraguay|QA Qatar
RE Reunion;Réunion|RO Romania|RS Serbia|RU Russia|RW Rwanda|SA Saudi Arabia
SB Solomon Islands|SC Seychelles|SD Sudan|SE Sweden|SG Singapore|SH St. Helena
SI Slovenia|SJ Svalbard and Jan Mayen|SK Slovakia|SL Sierra Leone|SM San Marino
SN Senegal|SO Somalia|SR Suriname|SS South Sudan
ST Sao Tome and Principe;São Tomé and Príncipe|SV El Salvador|SX Sint Maarten|SY Syria
SZ Eswatini;Swaziland|TC Turks and Caicos Islands|TD Chad|TG Togo|TH Thailand
TJ Tajikistan|TK Tokelau|TL Timor-Leste;East Timor|TM Turkmenistan|TN Tunisia|TO Tonga
TR Turkey;Türkiye|TT Trinidad and Tobago|TV Tuvalu|TW Taiwan|TZ Tanzania|UA Ukraine
UG Uganda|UM U.S. Outlying Islands|US United States;United States of America|UY Uruguay
UZ Uzbekistan|VA Vatican City|VC St. Vincent and Grenadines;Saint Vincent and the Grenadines
VE Venezuela|VG British Virgin Islands|VI U.S. Virgin Islands|VN Vietnam|VU Vanuatu
WF Wallis and Futuna|WS Samoa|XK Kosovo|YE Yemen|YT Mayotte|ZA South Africa|ZM Zambia
ZW Zimbabwe
"""


def fold(name: str) -> str:
    """A country name folded for lookup: case, `&`/"and", curly apostrophes, a leading
    "the"."""
    key = " ".join(name.casefold().replace("&", " and ").replace("’", "'").split())
    return key.removeprefix("the ")


def _entries() -> list[tuple[str, list[str]]]:
    found = []
    for entry in _TABLE.replace("\n", "|").split("|"):
        code, _, names = entry.strip().partition(" ")
        if code:
            found.append((code, names.split(";")))
    return found


# folded name (each spelling) → code
CODES = {fold(name): code for code, names in _entries() for name in names}
# code → its English short name (the first spelling)
NAMES = {code: names[0] for code, names in _entries()}


@lru_cache(maxsize=1024)
def code_of(name: str) -> str:
    """An English country name → ISO 3166-1 alpha-2 ("" when unknown or not set)."""
    return CODES.get(fold(name), "")
