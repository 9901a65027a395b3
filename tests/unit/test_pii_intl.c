/* test_pii_intl.c — validators for national identifiers (engine/pii_valid_intl.c):
 * published example values pass, the same values with one character changed
 * or a broken structure (date, prefix, length) fail, and a validator keeps
 * the base score (0) where its checksum is too weak to stand alone. */
#include <criterion/criterion.h>
#include <string.h>

#include "engine/pii_int.h"

struct vcase {
    const char *v;
    double want;   /* -1 drop, 0 keep base score, > 0 that score */
};

static void
check(const char *name, const struct vcase *c, size_t n)
{
    tg__pii_validator_fn fn = tg__pii_validator(name);
    size_t i;

    cr_assert_not_null(fn, "validator %s not registered", name);
    for (i = 0; i < n; i++) {
        double got = fn(c[i].v, strlen(c[i].v));
        if (c[i].want < 0)
            cr_expect(got < 0, "%s(\"%s\") = %.2f, want a drop", name, c[i].v, got);
        else
            cr_expect(got > c[i].want - 1e-9 && got < c[i].want + 1e-9, "%s(\"%s\") = %.2f, want %.2f", name,
                      c[i].v, got, c[i].want);
    }
}

#define CHECK(name, ...)                                                                         \
    do {                                                                                         \
        static const struct vcase cs_[] = { __VA_ARGS__ };                                       \
        check(name, cs_, sizeof cs_ / sizeof cs_[0]);                                            \
    } while (0)

Test(pii_intl, primitives)
{
    cr_expect(tg__pii_mod11_10_ok("86095742719", 11));
    cr_expect(tg__pii_mod11_10_ok("136695976", 9));
    cr_expect(!tg__pii_mod11_10_ok("86095742718", 11));
    cr_expect(!tg__pii_mod11_10_ok("8609574271x", 11));
    cr_expect(tg__pii_verhoeff_ok("234123412346", 12));
    cr_expect(tg__pii_verhoeff_ok("499118665246", 12));
    cr_expect(!tg__pii_verhoeff_ok("234123412347", 12));
    cr_expect(!tg__pii_verhoeff_ok("243123412346", 12), "Verhoeff catches a transposition");
    cr_expect(!tg__pii_verhoeff_ok("", 0));
}

Test(pii_intl, unknown_name)
{
    cr_expect_null(tg__pii_validator("no_such_validator"));
    cr_expect_null(tg__pii_validator_intl("credit_card"), "the base table owns credit_card");
    cr_expect_not_null(tg__pii_validator("credit_card"));
    cr_expect_not_null(tg__pii_validator("de_tax_id"));
}

Test(pii_intl, germany)
{
    CHECK("de_tax_id", { "86095742719", 1 }, { "47036892816", 1 }, { "65929970489", 1 },
          { "86 095 742 719", 1 }, { "86095742718", -1 }, { "06095742719", -1 },
          { "12345678903", -1 } /* no digit repeats */, { "11123456784", -1 } /* three in a row */,
          { "8609574271", -1 });
    CHECK("de_vat", { "DE136695976", 1 }, { "DE129273398", 1 }, { "DE 136695976", 1 },
          { "DE136695977", -1 }, { "AT136695976", -1 }, { "DE036695976", -1 }, { "DE13669597", -1 });
    CHECK("icao9", { "C01X00T41", 0 }, { "F20400481", 0 }, { "C01X00T42", -1 }, { "C01X00T4", -1 },
          { "C01X00T4X", -1 });
    CHECK("de_rvnr", { "15070649C103", 1 }, { "15 070649 C 103", 1 }, { "15070649C104", -1 },
          { "15073249C103", -1 } /* day 32 */, { "15071349C103", -1 } /* month 13 */,
          { "150706491103", -1 });
    CHECK("de_kvnr", { "A123456780", 0 }, { "A123456781", -1 }, { "1123456780", -1 }, { "A12345678", -1 });
    CHECK("de_lanr", { "123456601", 0 }, { "999999900", 0 }, { "123456701", -1 }, { "12345660", -1 });
}

Test(pii_intl, spain_italy)
{
    CHECK("es_nif", { "12345678Z", 1 }, { "12345678-Z", 1 }, { "X1234567L", 1 }, { "X-1234567-L", 1 },
          { "12345678A", -1 }, { "X1234567A", -1 }, { "W1234567L", -1 }, { "1234567Z", -1 });
    CHECK("it_fiscal", { "RSSMRA85T10A562S", 1 }, { "RSSMRA85T10A562T", -1 }, { "RSSMRA85T10A56NH", 1 } /* omocodia */,
          { "RSSMRA85T1LA56NK", 1 }, { "RSSMRA85T1ZA56NK", -1 } /* Z is no omocodia digit */,
          { "RSSMRA85F10A562S", -1 } /* F is no month letter */, { "RSSMRA85T10A562", -1 });
    CHECK("it_vat", { "00743110157", 0 }, { "01114601006", 0 }, { "IT00743110157", 0 },
          { "00743110158", -1 }, { "12345678903", -1 } /* office code 890 */, { "0074311015", -1 });
}

Test(pii_intl, nordics_poland)
{
    CHECK("fi_hetu", { "131052-308T", 1 }, { "131052-308U", -1 }, { "311352-308T", -1 },
          { "131052G308T", -1 }, { "131052-308", -1 });
    CHECK("pl_pesel", { "44051401359", 0 }, { "02070803628", 0 }, { "44051401358", -1 },
          { "44133101359", -1 } /* month 13 */, { "4405140135", -1 });
    CHECK("se_pnr", { "811228-9874", 0.6 }, { "8112289874", 0 }, { "19811228-9874", 0.6 },
          { "670919-9530", 0.6 }, { "811228-9875", -1 }, { "811328-9874", -1 }, { "811228-987", -1 });
    CHECK("se_org", { "556036-0793", 0 }, { "212000-0142", 0 }, { "556036-0794", -1 },
          { "8112289874", -1 } /* third digit < 2: a personnummer */);
}

Test(pii_intl, uk)
{
    CHECK("uk_dl", { "MORGA753116SM9IJ", 0 }, { "MORGA758116SM9IJ", 0 } /* month 58: a woman born in August */, { "MORGA764116SM9IJ", -1 } /* month 64 */,
          { "MORGA753326SM9IJ", -1 } /* day 32 */, { "9ORGA753116SM9IJ", -1 }, { "MORGA753116SM9I", -1 });
}

Test(pii_intl, korea)
{
    CHECK("kr_rrn", { "800101-1234560", 0.75 }, { "8001011234560", 0 }, { "800101-1234561", -1 },
          { "800101-5234561", -1 } /* 5: a foreigner */, { "801301-1234560", -1 },
          { "80010-11234560", -1 } /* not its layout */, { "8001011-234560", -1 });
    CHECK("kr_frn", { "800101-5234561", 0.75 }, { "800101-5234562", -1 }, { "800101-1234560", -1 });
    CHECK("kr_brn", { "220-81-62517", 0 }, { "2208162517", 0 }, { "220-81-62518", -1 }, { "220-81-6251", -1 });
}

Test(pii_intl, singapore_india_thailand)
{
    CHECK("sg_nric", { "S1234567D", 1 }, { "T1234567J", 1 }, { "F1234567N", 1 }, { "G1234567X", 1 },
          { "S1234567A", -1 }, { "M1234567K", -1 }, { "S123456D", -1 });
    CHECK("in_aadhaar", { "234123412346", 0 }, { "2341 2341 2346", 0 }, { "499118665246", 0 },
          { "234123412347", -1 }, { "134123412346", -1 } /* no 0/1 start */, { "23412341234", -1 });
    CHECK("in_gstin", { "27AAPFU0939F1ZV", 1 }, { "29AAGCB7383J1Z4", 1 }, { "27AAPFU0939F1ZW", -1 },
          { "40AAPFU0939F1ZV", -1 } /* no state 40 */, { "27AAPFU0939F1Z", -1 });
    CHECK("th_tnin", { "3100600445571", 0 }, { "3-1006-00445-57-1", 0.6 }, { "3100600445572", -1 },
          { "0100600445571", -1 }, { "310060-0445571", -1 } /* a Korean layout */);
}

Test(pii_intl, australia)
{
    CHECK("au_abn", { "51824753556", 1 }, { "51 824 753 556", 1 }, { "53004085616", 1 }, { "51824753557", -1 },
          { "01824753556", -1 });
    CHECK("au_acn", { "004085616", 0 }, { "000 000 019", 0 }, { "004085617", -1 });
    CHECK("au_tfn", { "123456782", 0 }, { "876 543 210", 0 }, { "123456789", -1 });
    CHECK("au_medicare", { "2123456701", 0 }, { "2428778132", 0 }, { "2123456711", -1 },
          { "7123456701", -1 } /* first digit 2-6 */);
}

Test(pii_intl, americas_mea)
{
    CHECK("ca_sin", { "046454286", -1 } /* 0 is not issued */, { "130692544", 0 }, { "130-692-544", 0 },
          { "130692545", -1 }, { "830692547", -1 });
    CHECK("us_npi", { "1234567893", 0 }, { "1245319599", 0 }, { "1234567894", -1 }, { "3234567893", -1 });
    CHECK("dea", { "AB1234563", 0.6 }, { "AB1234564", -1 }, { "AB123456", -1 });
    CHECK("za_id", { "8001015009087", 0 }, { "8001015009088", -1 }, { "8013015009086", -1 },
          { "8001015009384", -1 } /* citizenship 3 */, { "800101 5009 087", 0 }, { "800101-5009087", -1 });
    CHECK("tr_id", { "10000000146", 0 }, { "12345678950", 0 }, { "10000000147", -1 }, { "01234567890", -1 },
          { "1000 0000 146", -1 });
    CHECK("digits11", { "12345678901", 0 }, { "1234 5678 901", -1 }, { "IT12345678901", -1 }, { "1234567890", -1 });
}

Test(pii_intl, russia_philippines)
{
    CHECK("ru_inn", { "7707083893", 0 }, { "500100732259", 0 }, { "7707083894", -1 }, { "500100732258", -1 },
          { "500100732269", -1 } /* first of two check digits */, { "77070838930", -1 });
    CHECK("ru_snils", { "112-233-445 95", 0.75 }, { "11223344595", 0 }, { "112-233-445 96", -1 },
          { "112-233-44 595", -1 } /* not its layout */);
    CHECK("ph_philhealth", { "12-000015726-6", 0.6 }, { "120000157266", 0 }, { "12-000015726-7", -1 },
          { "1200-0015726-6", -1 });
}
