package castellan

import "strings"

// commonPasswords holds, lower-cased, well-known passwords that the length
// rule alone would let through: entries of public breach top lists of 10
// characters or more, and the usual "Word + digits + symbol" patterns.
// The list is small on purpose; it stops the first guesses of an attacker,
// not a dictionary attack, which argon2id and lockout are for.
var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range strings.Fields(commonPasswordList) {
		m[p] = true
	}
	return m
}()

const commonPasswordList = `
1234567890 0123456789 12345678910 1234567891 1q2w3e4r5t 1q2w3e4r5t6y 1qaz2wsx3edc
qwertyuiop qwerty1234 qwerty12345 qwerty123! qwerty123@ qwerty@123 qwerty!123 qwerty123456
asdfghjkl1 asdfghjkl; zxcvbnm123 1qaz!qaz2wsx 1qaz@wsx3edc q1w2e3r4t5 q1w2e3r4t5y6
password12 password123 password1! password12! password123! password@123 password#123 password!123
password1234 password2020 password2021 password2022 password2023 password2024 password2025 password2026
p@ssw0rd123 p@ssw0rd12 p@ssword123 p@ssword1 p@ssw0rd1! p@ssw0rd!! passw0rd123 passw0rd12 passw0rd1!
welcome123 welcome1234 welcome123! welcome@123 welcome2024 welcome2025 welcome2026 welc0me123
letmein123 letmein123! letmein1234 iloveyou123 iloveyou12 iloveyou1! iloveyou!!
admin12345 admin123456 admin@1234 admin@12345 admin1234! administrator admin123!@# administrator1
changeme123 changeme12 changeme1! changeme!! change_me123 changeit123
sunshine123 sunshine12 princess123 princess12 football123 football12 baseball123 baseball12
monkey12345 dragon12345 superman123 batman12345 starwars123 master1234 master12345 trustno1!!
abc1234567 abcd123456 abc123456789 abcdef1234 abcdefg123 abc123!@# a1b2c3d4e5 aa12345678
secret1234 secret123! mypassword mypassword1 mypassword123 newpassword newpassword1 newpassword123
summer2024! summer2025! summer2026! winter2024! winter2025! winter2026! spring2025! autumn2025!
spring2026! autumn2026! summer2024 summer2025 summer2026 winter2024 winter2025 winter2026
company123 company123! company@123 computer123 internet123 football1! liverpool1 chelsea123
michael123 jennifer12 jordan2323 1234qwer!! 1234abcd!! 12345abcde 12345qwert qwert12345
!qaz2wsx3edc zaq12wsx!! zaq1@wsx zaq1zaq1zaq1 1q2w3e4r!! 1q2w3e4r5t! 1q2w3e!q2w3e
`
