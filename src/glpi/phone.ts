import { parsePhoneNumberFromString, type CountryCode, type PhoneNumber } from 'libphonenumber-js';

/**
 * E.164 form of a phone number written any way people write them ("+33 6 12 34 56 78",
 * "06.12.34.56.78", "0033 612345678"), or undefined when it cannot be read as one.
 * `region` reads numbers written without a country code; without it such numbers are unreadable.
 */
export function normalizePhone(raw: string | null | undefined, region?: CountryCode): string | undefined {
  return parsePhone(raw, region)?.number;
}

export function parsePhone(raw: string | null | undefined, region?: CountryCode): PhoneNumber | undefined {
  if (typeof raw !== 'string') return undefined;
  const text = raw.trim();
  if (!/\d/.test(text)) return undefined;
  let parsed = tryParse(text, region);
  // "00" is the international prefix almost everywhere; libphonenumber only knows it when the
  // region is given, so read "0033..." as "+33..." when nothing else worked.
  if (parsed === undefined && /^00[1-9]/.test(text.replace(/[\s.()-]/g, ''))) {
    parsed = tryParse(`+${text.replace(/[\s.()-]/g, '').slice(2)}`, undefined);
  }
  return parsed;
}

function tryParse(text: string, region: CountryCode | undefined): PhoneNumber | undefined {
  try {
    const parsed = parsePhoneNumberFromString(text, region === undefined ? undefined : { defaultCountry: region });
    // isPossible (length) rather than isValid (number ranges): metadata lags behind new ranges,
    // and a stored number that merely looks unusual must still match itself.
    return parsed?.isPossible() ? parsed : undefined;
  } catch {
    return undefined;
  }
}
