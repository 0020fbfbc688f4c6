import Glibc

extension HTTPDate {
    /// Seconds since the epoch for an HTTP-date (RFC 9110 §5.6.7) in any of its three forms,
    /// as recipients must accept them: IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, RFC 850
    /// `Sunday, 06-Nov-94 08:49:37 GMT`, and asctime `Sun Nov  6 08:49:37 1994`. Nil otherwise.
    /// `now` places a two-digit RFC 850 year: more than 50 years ahead means the past century.
    static func parse(_ text: String, now: time_t) -> time_t? {
        let fields = text.split { $0 == " " || $0 == "," || $0 == "-" || $0 == ":" }
        guard let weekday = fields.first, weekday.count >= 3, weekday.allSatisfy(\.isLetter) else { return nil }
        let day: Substring, month: Substring, year: Substring, time: ArraySlice<Substring>
        switch fields.count {
        case 8 where fields[7] == "GMT":
            // IMF-fixdate and RFC 850 share the order: day month year hh mm ss GMT.
            (day, month, year, time) = (fields[1], fields[2], fields[3], fields[4...6])
        case 7:
            (month, day, time, year) = (fields[1], fields[2], fields[3...5], fields[6])
        default:
            return nil
        }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let monthIndex = months.firstIndex(of: String(month)), let dayNumber = Int32(day), (1...31).contains(dayNumber),
            var yearNumber = Int32(year), year.count == 4 || year.count == 2,
            let hour = Int32(time[time.startIndex]), let minute = Int32(time[time.startIndex + 1]),
            let second = Int32(time[time.startIndex + 2]), hour < 24, minute < 60, second <= 60
        else { return nil }
        if year.count == 2 {
            var nowParts = tm()
            var current = now
            gmtime_r(&current, &nowParts)
            let currentYear = nowParts.tm_year + 1900
            yearNumber += currentYear / 100 * 100
            if yearNumber > currentYear + 50 { yearNumber -= 100 }
        }
        var parts = tm()
        parts.tm_year = yearNumber - 1900
        parts.tm_mon = Int32(monthIndex)
        parts.tm_mday = dayNumber
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        return timegm(&parts)
    }
}
